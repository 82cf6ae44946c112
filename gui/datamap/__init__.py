"""The Map tab: every training and validation image of a run as a point (panel.py)."""
from gui.datamap.panel import MapPanel

__all__ = ["MapPanel"]
