"""What a newcomer can find: a File menu in a sensible order with Open Recent, Ctrl+1..9 for the tabs, Help > User
Guide (the README rendered in the app), a shortcuts box that lists them, and `layerscope --help` listing the app's
own options and commands."""
from __future__ import annotations

import subprocess
import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from tests.conftest import REPO


def texts(menu) -> list[str]:
    return [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]


def test_the_file_menu_reads_open_recent_save_export_and_quit_last(window):
    names = texts(window.menus["file"])
    assert names[0] == "Open Checkpoint…" and names[-1] == "Quit"
    opens = [n for n in names if n.startswith("Open ") and n != "Open Recent"]
    assert names[:len(opens)] == opens  # every Open… first (Dossier included: not below Quit any more)
    assert {"Open Image…", "Open Dataset…", "Open Run Folder…", "Open Run Dossier…"} <= set(opens)
    assert names.index("Open Recent") == len(opens)
    assert names.index("Save Checkpoint As…") < names.index("Export Model…") < names.index("Quit")
    groups = window.file_groups
    assert groups.group_of(window.export_model_action) == "save"


def test_open_recent_remembers_what_was_opened_and_opens_it_again(qtbot, window, app_settings, tmp_path):
    from gui.window.recent import RecentMenu

    run = tmp_path / "run"
    run.mkdir()
    window.follow_folders([str(run)])
    window.run_settings.set("dataset", str(tmp_path / "photos"))
    assert window.recent.items[:2] == [("dataset", str(tmp_path / "photos")), ("run", str(run))]
    again = RecentMenu(app_settings)  # the next session
    assert again.items == window.recent.items
    opened = []
    window.follow_folders = opened.append
    run_entry = next(a for a in window.recent.actions() if a.toolTip() == str(run))
    run_entry.trigger()
    assert opened == [[str(run)]]
    (tmp_path / "gone.pt").touch()
    window.recent.add("checkpoint", str(tmp_path / "gone.pt"))
    (tmp_path / "gone.pt").unlink()
    window.recent.actions()[0].trigger()
    assert "no longer there" in window.last_message_box.text()


def test_ctrl_1_to_9_switch_tabs(qtbot, window):
    assert window.tabs.count() == 9  # Train, Data, Model, Inspect, Dossier, Runs, Evaluate, Label, Map
    assert [a.shortcut().toString() for a in window.tab_actions] == [f"Ctrl+{i}" for i in range(1, 10)]
    window.activateWindow()
    for i in (4, 9, 1):
        qtbot.keyClick(window, Qt.Key(Qt.Key.Key_0 + i), Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda i=i: window.tabs.currentIndex() == i - 1, timeout=5_000)


def test_help_user_guide_renders_the_readme_and_the_shortcuts_box_lists_the_keys(qtbot, window):
    from gui.window.help_hookup import show_shortcuts

    assert window.guide_action.shortcut() == QKeySequence(QKeySequence.StandardKey.HelpContents)
    window.guide_action.trigger()
    dialog = window.guide_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    text = dialog.browser.toPlainText()
    assert "Set-up: two commands" in text and "The layerscope command" in text  # the README, as Markdown
    assert "##" not in text  # rendered, not shown as source
    pictures = dialog.browser.document().toHtml().count("<img")
    assert pictures >= 5  # the README's screenshots, drawn to the guide's width: it never scrolls sideways
    qtbot.waitUntil(lambda: dialog.browser.horizontalScrollBar().maximum() == 0, timeout=5_000)
    box = show_shortcuts(window)
    for keys in ("Ctrl+1", "Ctrl+9", "Alt+Left", "F1"):
        assert keys in box.text()
    dialog.close()


def test_layerscope_help_lists_the_apps_options_and_commands():
    out = subprocess.run([sys.executable, "-m", "gui.cli", "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    for word in ("--checkpoint", "--follow", "--evaluation", "monitor", "train", "predict", "evaluate"):
        assert word in out.stdout
