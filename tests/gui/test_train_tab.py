"""The Train tab on its own (gui/training/tab.py): what it asks the window for, through its signals."""
from PySide6.QtWidgets import QMessageBox

from gui.log_panel import LogPanel
from gui.model_hub import ModelHub
from gui.run_settings_model import RunSettingsModel, SettingsError
from gui.training.tab import TrainTab


def _tab(qtbot):
    log = LogPanel()
    qtbot.addWidget(log)
    tab = TrainTab(RunSettingsModel(), ModelHub(), log)
    qtbot.addWidget(tab)
    return tab, log


def test_train_with_bad_settings_alerts_and_requests_no_run(qtbot, monkeypatch):
    tab, log = _tab(qtbot)
    tab.engine_ready = True  # as once PyTorch has loaded; `build` is replaced below
    monkeypatch.setattr(tab.run_settings, "build", lambda: (_ for _ in ()).throw(SettingsError("Epochs: 'x'")))
    alerts, requested = [], []
    tab.alert.connect(lambda icon, title, text: alerts.append((icon, title, text)))
    tab.runRequested.connect(requested.append)
    tab.start_training()
    assert alerts == [(QMessageBox.Icon.Warning, "Cannot start training", "Epochs: 'x'")] and requested == []
    monkeypatch.setattr(tab.run_settings, "build", lambda: "settings")
    tab.start_training()
    assert requested == ["settings"]
    tab.start_confirmed("settings", False)  # the model would not fit: no run, a log line says why
    assert "would probably not fit" in log.text()
    assert tab.controller.state == "idle" and tab.controller.job is None
    tab.shutdown()


def test_nothing_starts_before_the_engine_and_following_needs_none_and_closing_is_allowed(qtbot, tmp_path):
    tab, _ = _tab(qtbot)
    assert not tab.engine_ready and tab.start_run("settings") is False and tab.shown_run_dir() is None
    assert tab.controller.job is None
    assert tab.may_close(None) is True
    shown = []
    tab.showRequested.connect(lambda: shown.append(True))
    assert tab.follow_run(str(tmp_path)) and shown == [True] and tab.shown_run_dir() == tmp_path
    assert tab.controller.following and not tab.is_active() and tab.may_close(None) is True
    tab.shutdown()
    assert tab.controller.handle is None
