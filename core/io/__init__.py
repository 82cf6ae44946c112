"""Files and signals: atomic writes that never follow links, the safe reader, images, SIGINT/SIGTERM."""
