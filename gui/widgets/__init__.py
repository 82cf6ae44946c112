"""Widgets of the training workflow: live plots, the training form, progress, the log panel."""
