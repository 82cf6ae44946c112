"""Which key does what in the labelling queue: 1-9 pick the class by number, a class's first letter picks
it where that letter is unique among the classes and is none of the command keys; N new class, S skip,
X none of these, Backspace undo. Qt-free."""
from __future__ import annotations

COMMANDS = {"n": "new_class", "s": "skip", "x": "none"}


def letter_keys(classes: list[str]) -> dict[str, str]:
    """letter -> class, for first letters no other class shares and no command uses."""
    firsts: dict[str, list[str]] = {}
    for name in classes:
        if name:
            firsts.setdefault(name[0].lower(), []).append(name)
    return {k: v[0] for k, v in firsts.items() if len(v) == 1 and k not in COMMANDS and not k.isdigit()}


def action_for(text: str, classes: list[str]) -> tuple[str, str | None] | None:
    """('label', class) / ('new_class' | 'skip' | 'none', None), or None for a key that does nothing."""
    key = text.lower()
    if len(key) != 1:
        return None
    if key.isdigit() and key != "0":
        index = int(key) - 1
        return ("label", classes[index]) if index < len(classes) else None
    if key in COMMANDS:
        return COMMANDS[key], None
    name = letter_keys(classes).get(key)
    return ("label", name) if name else None


def legend(classes: list[str]) -> str:
    letters = {v: k for k, v in letter_keys(classes).items()}
    parts = [f"{i + 1}{'/' + letters[c].upper() if c in letters else ''} {c}" for i, c in enumerate(classes[:9])]
    return "   ".join(parts) + "   ·   N new class   S skip   X none of these   ⌫ undo"
