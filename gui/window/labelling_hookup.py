"""How the main window takes in the Label tab (the labelling queue and the data-size curve): the current
model's checkpoint, the run settings' folder dataset, the settings the curve trains, the log.

    self.labelling_tab = install_labelling_tab(self)   # in MainWindow.__init__
    self.labelling_tab.shutdown()                       # in MainWindow.closeEvent
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction

from gui.labelling.queue_tab import LabellingTab


def install_labelling_tab(window) -> LabellingTab:
    tab = LabellingTab(window)
    window.tabs.addTab(tab, "Label")
    tab.message.connect(window.log.append)
    tab.set_dataset(_folder_dataset(window))
    window.run_settings.changed.connect(lambda key, value: key == "dataset" and tab.set_dataset(_folder_dataset(window)))
    window.hub.checkpointChanged.connect(lambda ckpt: tab.set_checkpoint(getattr(ckpt, "source", "") or ""))
    current = window.hub.current()
    if current is not None:
        tab.set_checkpoint(getattr(current, "source", "") or "")
    tab.curve.settings_provider = lambda: window.run_settings.build().to_dict()
    action = QAction("Would More Photos &Help?…", window)
    action.setToolTip("Train the current settings on 10, 25, 50 and 100 % of the training photos (each for as "
                      "many steps as the full run) and fit the learning curve (in the Label tab)")
    action.triggered.connect(lambda: (window.tabs.setCurrentWidget(tab), tab.show_curve()))
    window.menus["training"].addAction(action)
    return tab


def _folder_dataset(window) -> str:
    name = str(window.run_settings.get("dataset") or "")
    return name if name and Path(name).expanduser().is_dir() else ""
