"""Self-describing checkpoints: save, load, their schema, and prediction from one."""
