"""The dossier of a run, in one window: Channels (top images per channel, and synthesised pictures of what each
wants to see), Health (layer health), Probes (probe timeline) and Concepts (which concepts a class relies
on), each reading the run folder on its own BackgroundTask."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from gui.dossier.channels import ChannelsView
from gui.dossier.concepts import ConceptsView
from gui.dossier.health import HealthView
from gui.dossier.probes import ProbeTimelineView


class DossierPanel(QWidget):
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.run_dir: str | None = None
        self.channels, self.health, self.probes = ChannelsView(), HealthView(), ProbeTimelineView()
        self.concepts = ConceptsView()
        self.channels.message.connect(self.message)
        self.concepts.message.connect(self.message)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.channels, "Channels")
        self.tabs.addTab(self.health, "Health")
        self.tabs.addTab(self.probes, "Probes")
        self.tabs.addTab(self.concepts, "Concepts")
        self.run_label = QLabel("No run open")
        open_button = QPushButton("Open Run…")
        open_button.clicked.connect(self.choose_run)
        top = QHBoxLayout()
        top.addWidget(self.run_label, 1)
        top.addWidget(open_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

    def choose_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a run folder")
        if folder:
            self.open_run(folder)

    def open_run(self, run_dir: str) -> None:
        self.run_dir = str(run_dir)
        self.run_label.setText(self.run_dir)
        for view in self.views:
            view.open_run(self.run_dir)

    @property
    def views(self) -> tuple:
        return self.channels, self.health, self.probes, self.concepts

    def shutdown(self) -> None:
        for view in self.views:
            view.shutdown()

