"""The Inspect tab's history of drops, as a browser keeps pages: a new drop goes after the one shown (anything
ahead of it is dropped), Back and Forward (Alt+Left, Alt+Right) move through them. Plain Python over lists of
ImageSource; the panel re-inspects the entry it lands on."""
from __future__ import annotations

MAX_ENTRIES = 30  # drops remembered; the oldest go first


class DropHistory:
    def __init__(self, limit: int = MAX_ENTRIES):
        self.entries: list[list] = []
        self.position = -1
        self.limit = limit

    def push(self, sources: list) -> None:
        """A new drop: it becomes the current entry; what was ahead of the old one is forgotten."""
        if self.position >= 0 and self.entries[self.position] == list(sources):
            return  # the same images again (a re-drop, a retry): not a new step
        del self.entries[self.position + 1:]
        self.entries.append(list(sources))
        if len(self.entries) > self.limit:
            del self.entries[0]
        self.position = len(self.entries) - 1

    def can_go_back(self) -> bool:
        return self.position > 0

    def can_go_forward(self) -> bool:
        return self.position < len(self.entries) - 1

    def back(self) -> list | None:
        if not self.can_go_back():
            return None
        self.position -= 1
        return self.entries[self.position]

    def forward(self) -> list | None:
        if not self.can_go_forward():
            return None
        self.position += 1
        return self.entries[self.position]

    def describe(self, offset: int) -> str:
        """The entry `offset` steps from the current one, for a tooltip ("3 images", "cat.jpg")."""
        i = self.position + offset
        if not 0 <= i < len(self.entries):
            return ""
        entry = self.entries[i]
        return entry[0].label if len(entry) == 1 else f"{len(entry)} images"
