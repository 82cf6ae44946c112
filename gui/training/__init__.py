"""The Train tab: the training form, live plots, progress bars, and the worker thread and controller behind them."""
