"""The Dossier tab: a run's channels (top images per channel), layer health and probe timelines."""
