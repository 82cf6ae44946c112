"""How the main window takes in the Train tab; kept here so the window stays a composition. Its connections to
other tabs (the memory check with the Model tab, Runs, Evaluate) are in gui/window/wiring.py.

    self.train_tab = install_training_tab(self, self.run_settings)  # in MainWindow.__init__, after the menus
    self.train_tab.set_engine_ready()                # once the engine has loaded (Train enables)
    self.train_tab.may_close(self) / .shutdown()     # in MainWindow.closeEvent
"""
from __future__ import annotations

from gui.training.tab import TrainTab


def install_training_tab(window, run_settings) -> TrainTab:
    """The Train tab (first), its actions in the Training menu (+ Export Plots / Metrics CSV), and its requests
    to the window (message boxes, the status bar, opening a checkpoint). Returns the tab for the window to keep
    (this module sets nothing on the window)."""
    tab = TrainTab(run_settings, window.hub, window.log, window.runs_root, window)
    window.tabs.insertTab(0, tab, "Train")
    menu = window.menus["training"]
    for action in (tab.panel.train_action, tab.panel.pause_action, tab.panel.stop_action):
        menu.addAction(action)
        window.addAction(action)  # shortcuts work whichever tab is showing
    menu.addSeparator()
    menu.addAction(tab.panel.find_lr_action)
    sweep = menu.addAction("New S&weep…")
    sweep.setToolTip("Train several runs with settings a sweep picks (Optuna), each a run in the Runs tab")
    sweep.triggered.connect(tab.new_sweep)
    menu.addSeparator()
    menu.addAction("Export &Plots…").triggered.connect(lambda: tab.train_exports.export_plots(window))
    menu.addAction("Export Metrics &CSV…").triggered.connect(
        lambda: tab.train_exports.export_csv(window, tab.shown_run_dir()))
    tab.alert.connect(window.show_message)
    tab.statusMessage.connect(lambda text: window.statusBar().showMessage(text))
    tab.showRequested.connect(lambda: window.tabs.setCurrentWidget(tab))
    tab.runStarted.connect(lambda _: window.save_action.setEnabled(True))
    return tab
