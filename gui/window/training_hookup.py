"""How the main window takes in the Train tab; kept here so the window stays a composition.

    self.train_tab = install_training_tab(self, self.run_settings)  # in MainWindow.__init__, after the menus
    self.train_tab.set_engine_ready()                # once the engine has loaded (Train enables)
    self.train_tab.may_close(self) / .shutdown()     # in MainWindow.closeEvent
"""
from __future__ import annotations

from gui.run_settings_model import remember
from gui.training.tab import TrainTab


def install_training_tab(window, run_settings) -> TrainTab:
    """The Train tab (first), its actions in the Training menu (+ Export Plots / Metrics CSV), and its requests
    wired to the window. Returns the tab for the window to keep (this module sets nothing on the window)."""
    tab = TrainTab(run_settings, window.hub, window.log, window.runs_root, window)
    window.tabs.insertTab(0, tab, "Train")
    menu = window.menus["training"]
    for action in (tab.panel.train_action, tab.panel.pause_action, tab.panel.stop_action):
        menu.addAction(action)
        window.addAction(action)  # shortcuts work whichever tab is showing
    menu.addSeparator()
    menu.addAction("Export &Plots…").triggered.connect(lambda: tab.train_exports.export_plots(window))
    menu.addAction("Export Metrics &CSV…").triggered.connect(
        lambda: tab.train_exports.export_csv(window, tab.shown_run_dir()))
    tab.alert.connect(window.show_message)
    tab.statusMessage.connect(lambda text: window.statusBar().showMessage(text))
    tab.showRequested.connect(lambda: window.tabs.setCurrentWidget(tab))
    tab.runStarted.connect(lambda _: window.save_action.setEnabled(True))
    tab.runRequested.connect(lambda settings: _confirm_and_start(window, tab, settings))
    return tab


def _confirm_and_start(window, tab: TrainTab, settings) -> None:
    """Remember the form, then ask first when the model would not fit (estimated off the GUI thread)."""
    remember(window.app_settings, tab.run_settings)
    window.model_view.confirm_run(lambda ok: tab.start_confirmed(settings, ok), window)
