"""The per-channel dossier: top dataset images per channel (topk), their receptive-field crops (receptive,
render), layer health while training (health) and pinned probe timelines (probes)."""
