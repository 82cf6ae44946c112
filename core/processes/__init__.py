"""A run in its own process (1 process, or N under torch.distributed) and the handle that follows it."""
