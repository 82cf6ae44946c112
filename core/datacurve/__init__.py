""""Would more photos help?": the learning curve of the user's own data.

subsets.py draws nested, stratified, seeded subsets of the training split; runner.py trains the current
settings on each as an ordinary run folder, grouped under one folder; fit.py fits a power law
(acc = a - b n^-c) or a logistic in ln n that starts at chance, whichever fits better, to validation accuracy
against training images per class, extrapolates it to 2x and 4x the
data with a bootstrap band, says it in one sentence, and names the classes that need photos most.
"""
