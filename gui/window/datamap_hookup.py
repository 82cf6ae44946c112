"""How the main window takes in the Map tab; kept here so the window stays a composition.

    self.datamap = install_datamap(self)   # in MainWindow.__init__, after the Dossier tab
"""
from __future__ import annotations

from PySide6.QtGui import QAction

from gui.datamap import MapPanel


def install_datamap(window) -> MapPanel:
    """The Map tab (after Dossier) and File > Open Run Map…."""
    panel = MapPanel(window)
    window.tabs.addTab(panel, "Map")
    panel.message.connect(lambda text: window.log.append("info", text))
    action = QAction("Open Run &Map…", window)
    action.setStatusTip("Every training and validation image of a run as a point, replayed over its epochs")
    action.triggered.connect(lambda: (window.tabs.setCurrentWidget(panel), panel.choose_run()))
    window.file_groups.add("open", action)  # with the other Open… items, above Open Recent
    return panel
