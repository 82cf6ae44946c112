"""Training: the Trainer loop, its config, strategy, precision, sampling, callbacks, guards and recorder."""
