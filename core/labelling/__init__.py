"""The labelling loop for a folder of unlabelled photos (a pool) beside a labelled dataset.

pool.py finds a pool's images and tells a pool from a dataset; ranking.py orders the pool for labelling
(uncertainty, unfamiliarity, k-centre diversity, random: numpy only); pool_scores.py is the one forward pass
over the pool (probabilities, features, familiarity); queue.py puts them together for the CLI and the app;
labels_log.py is the append-only log beside the dataset (replay, undo); apply.py copies a labelled photo into
its class folder (never overwriting, never moving the original) and undoes it.
"""
