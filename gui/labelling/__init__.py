"""The Label tab: the keyboard labelling queue for a folder of unlabelled photos (queue_tab.py), its
"Accept the confident ones" grid (confident_grid.py), the fine-tune child process that closes the loop
(finetune_process.py), and the "Would more photos help?" data-size curve (curve_view.py)."""
