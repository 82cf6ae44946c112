"""A menu in ordered groups, whoever adds to it and whenever: the File menu reads Open…, Recent, Save and
Export…, then Quit last, although each tab's install function adds its own actions.

    groups = MenuGroups(file_menu, ("open", "recent", "save", "quit"))
    groups.add("open", action)          # at the end of the "open" group
    groups.add_menu("recent", submenu)

Each group ends with a separator (QMenu collapses doubled, leading and trailing ones, so an empty group
shows no line).
"""
from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu


class MenuGroups:
    def __init__(self, menu: QMenu, names: tuple[str, ...]):
        self.menu = menu
        self.names = names
        self._ends: dict[str, QAction] = {}
        for name in names:
            end = menu.addSeparator()
            end.setObjectName(f"end of {name}")
            self._ends[name] = end

    def add(self, group: str, action: QAction) -> QAction:
        """Put `action` last in `group` (KeyError for a group the menu does not have)."""
        self.menu.insertAction(self._ends[group], action)
        return action

    def add_menu(self, group: str, submenu: QMenu) -> QAction:
        return self.add(group, submenu.menuAction())

    def group_of(self, action: QAction) -> str | None:
        """The group an action sits in (tests)."""
        group = self.names[0]
        for item in self.menu.actions():
            if item is action:
                return group
            if item.isSeparator() and item.objectName().startswith("end of "):
                following = self.names.index(item.objectName()[len("end of "):]) + 1
                group = self.names[following] if following < len(self.names) else None
        return None
