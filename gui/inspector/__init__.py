"""The Inspect tab: drop images on the window, see the prediction and what every layer computes.

`InspectorPanel(hub)` is the tab; everything heavy runs on its worker thread over a copy of the model.
Importing this package does not import torch (the window shows before the engine loads)."""
from gui.inspector.clipboard import sources_from_mime
from gui.inspector.panel import InspectorPanel
from gui.inspector.panel_widgets import DROP_HINT
from gui.inspector.sources import ImageSource, fetch_url, is_url

__all__ = ["DROP_HINT", "InspectorPanel", "ImageSource", "fetch_url", "is_url", "sources_from_mime"]
