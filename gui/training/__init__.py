"""The training session behind the GUI: a worker on its own QThread and the controller that owns it."""
