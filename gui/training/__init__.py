"""The Train tab: the training form, live plots, progress bars, and the controller and run handle behind them
(every run trains in a process of its own)."""
