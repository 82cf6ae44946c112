"""The map of the data: every training and validation image as a point in 2-D, from its penultimate features.

project.py (PCA at once; t-SNE and UMAP with progress and cancel), tsne.py (scikit-learn's t-SNE in stages),
align.py (orthogonal Procrustes, so successive maps do not jump), replay.py (one aligned map per saved epoch),
scatter.py (a PNG), embed.py (the headless job: a checkpoint and a dataset -> map.csv and map.png).
The features come from core.familiarity (one feature pass, shared with the familiarity score).
"""
