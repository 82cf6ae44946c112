"""How the main window takes in the Dossier tab; kept here so the window stays a composition.

    self.dossier = install_dossier(self)   # in MainWindow.__init__, after the Inspect tab
"""
from __future__ import annotations

from PySide6.QtGui import QAction

from gui.dossier.panel import DossierPanel


def install_dossier(window) -> DossierPanel:
    """The Dossier tab (after Inspect) and File > Open Run Dossier…. Its tasks stop at quit (BackgroundTask
    listens to aboutToQuit) and their pools wait for a running job when the window deletes them."""
    panel = DossierPanel(window)
    window.tabs.addTab(panel, "Dossier")
    panel.message.connect(lambda text: window.log.append("info", text))
    action = QAction("Open Run &Dossier…", window)
    action.setStatusTip("Top images per channel, layer health and probe timelines of a run folder")
    action.triggered.connect(lambda: (window.tabs.setCurrentWidget(panel), panel.choose_run()))
    window.file_groups.add("open", action)
    return panel
