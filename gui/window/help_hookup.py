"""The Help menu (User Guide, Keyboard Shortcuts, About) and the tab shortcuts (Ctrl+1 … Ctrl+N, in the View
menu): what a newcomer needs to find the rest. Kept here so the window stays a composition.

    self.tab_actions = install_tab_shortcuts(self)                   # after every tab is installed
    self.guide_action, self.shortcuts_action = install_help(self)

The User Guide is the README rendered by QTextBrowser's Markdown support (its pictures included); where the
README is not beside the code (an installed package), a short built-in guide says the same in brief.
"""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QKeySequence, QTextCursor, QTextDocument
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox, QTextBrowser, QVBoxLayout

APP_NAME = "Layerscope"
README = Path(__file__).resolve().parents[2] / "README.md"
MAX_TAB_SHORTCUTS = 9
BUILT_IN_GUIDE = """# Layerscope

Train image classifiers and look inside them.

1. **Train**: press **Train** (Ctrl+Return) to learn the built-in *shapes* set, or open your own photos
   (File > Open Dataset…, one sub-folder per class) in the **Data** tab and build a network in **Model**.
2. **Inspect**: drop images (or a folder of images) on the window to see the prediction, every layer and
   where the model looked. Alt+Left / Alt+Right go back and forward through your drops.
3. **Evaluate**: the confusion matrix of a run, the images of each cell, label issues, and a comparison of
   two evaluations. File > Export Model… writes ONNX, .pt2 or TorchScript.
4. **Runs** lists every run; **Dossier** shows what each channel responds to, the layers' health and the
   probe images followed over a run.

Ctrl+1 … Ctrl+9 switch tabs. `layerscope --help` lists the command-line options and commands.
"""


def install_tab_shortcuts(window) -> list[QAction]:
    """View > Go to <tab> (Ctrl+1, Ctrl+2, …) for the tabs as they are ordered; they work from any tab."""
    menu = window.menus["view"]
    menu.addSeparator()
    actions = []
    for i in range(min(window.tabs.count(), MAX_TAB_SHORTCUTS)):
        widget = window.tabs.widget(i)
        action = QAction(f"Go to {window.tabs.tabText(i).replace('&', '')}", window)
        action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
        action.triggered.connect(lambda _=False, w=widget: window.tabs.setCurrentWidget(w))
        menu.addAction(action)
        window.addAction(action)
        actions.append(action)
    return actions


def install_help(window) -> tuple[QAction, QAction]:
    menu = window.menus["help"]
    guide = QAction("&User Guide", window)
    guide.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))  # F1
    guide.triggered.connect(lambda: show_guide(window))
    shortcuts = QAction("&Keyboard Shortcuts", window)
    shortcuts.setShortcut(QKeySequence("Ctrl+F1"))
    shortcuts.triggered.connect(lambda: show_shortcuts(window))
    about = QAction(f"&About {APP_NAME}", window)
    about.triggered.connect(lambda: window.show_message(
        QMessageBox.Icon.Information, f"About {APP_NAME}",
        f"{APP_NAME}: train image classifiers and look inside them.\n\n"
        "PySide6 + pyqtgraph front end over a PyTorch / torchvision engine."))
    for action in (guide, shortcuts, about):
        menu.addAction(action)
    window.addAction(guide)
    window.addAction(shortcuts)
    return guide, shortcuts


class GuideDialog(QDialog):
    """The README (or the built-in guide) in a browser window beside the app; links open outside."""

    def __init__(self, parent=None, readme: Path = README):
        super().__init__(parent)
        self.setWindowTitle(f"{APP_NAME} User Guide")
        self.resize(900, 700)
        self.browser = GuideBrowser()
        self.browser.setOpenExternalLinks(True)
        if readme.is_file():
            self.browser.setSearchPaths([str(readme.parent)])  # its pictures (resources/screenshots/...)
            self.browser.setSource(QUrl.fromLocalFile(str(readme)), QTextDocument.ResourceType.MarkdownResource)
        else:
            self.browser.setMarkdown(BUILT_IN_GUIDE)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)


class GuideBrowser(QTextBrowser):
    """A QTextBrowser whose pictures follow its width."""

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        margin = 2 * int(self.document().documentMargin()) + 4
        fit_pictures(self.document(), self.viewport().width() - margin)


def fit_pictures(document: QTextDocument, width: int) -> int:
    """Draw every picture `width` px wide, its height following (the README's 1200-px screenshots would otherwise
    make the guide scroll sideways). Returns how many pictures it fitted."""
    width = max(width, 100)
    fitted, block = 0, document.begin()
    while block.isValid():
        fragments = block.begin()
        while not fragments.atEnd():
            fragment = fragments.fragment()
            if fragment.charFormat().isImageFormat():
                picture = fragment.charFormat().toImageFormat()
                if int(picture.width()) != width:
                    picture.setWidth(width)
                    cursor = QTextCursor(document)
                    cursor.setPosition(fragment.position())
                    cursor.setPosition(fragment.position() + fragment.length(), QTextCursor.MoveMode.KeepAnchor)
                    cursor.setCharFormat(picture)
                fitted += 1
            fragments += 1
        block = block.next()
    return fitted


def show_guide(window) -> GuideDialog:
    dialog = getattr(window, "guide_dialog", None)
    if dialog is None:
        dialog = window.guide_dialog = GuideDialog(window)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def shortcut_actions(window) -> list[QAction]:
    """Every action with a key, in the order the shortcuts box lists them."""
    candidates = [window.open_action, window.save_action, window.open_image_action, window.paste_image_action,
                  window.open_dataset_action, window.panel.train_action, window.panel.pause_action,
                  window.panel.stop_action, window.inspector.back_action, window.inspector.forward_action,
                  *window.tab_actions, window.guide_action]
    return [a for a in candidates if not a.shortcut().isEmpty()]


def show_shortcuts(window) -> QMessageBox:
    rows = []
    for action in shortcut_actions(window):
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        rows.append(f"<tr><td><b>{html.escape(keys)}</b></td><td>&nbsp;&nbsp;"
                    f"{html.escape(action.text().replace('&', ''))}</td></tr>")
    text = ("<table>" + "".join(rows) + "</table><p>Drop images, a folder of images, a .pt checkpoint, a run folder "
            "or a dataset folder on the window.</p>")
    box = window.show_message(QMessageBox.Icon.Information, "Keyboard shortcuts", text)
    box.setTextFormat(Qt.TextFormat.RichText)
    return box
