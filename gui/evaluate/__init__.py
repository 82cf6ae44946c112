"""The Evaluate tab: confusion matrix with drill-down, label issues and corrections, compare, export."""
from gui.evaluate.tab import EvaluateTab

__all__ = ["EvaluateTab"]
