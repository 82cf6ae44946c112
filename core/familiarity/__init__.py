"""Familiarity: how much an image looks like the training images, as the model sees them.

One feature pass (features.py, over the images of sources.py) gives the penultimate features and logits of
every training and validation image; a bank of the training features (bank.py, stored beside its checkpoint
by bank_file.py) and k-NN distances (knn.py) give each new image a score in [0, 1] calibrated on the
validation images (calibration.py) and its nearest training images (scoring.py). store.py keeps feature
passes in the run folder (per checkpoint and per epoch); jobs.py holds the entry points the CLI, the GUI and
the trainer callback call. The map of the data built on these features is core.datamap.
"""
