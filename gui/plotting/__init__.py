"""Plot helpers shared by the Train and Runs tabs: growable point buffers, TensorBoard's smoothing, axis ranges."""
