"""The run-folder format, torch-free: its files, records, follower, index and digest, lock, control and actions."""
