"""A decoy tree outside a hostile folder, hashed before and after: proof that nothing outside the folder was
created, moved, changed or truncated (the `outside_touched` counter of benchmarks/robustness.py, and every
hostile-folder test).

`Decoy(root)` fills `root` with files a crafted folder would aim at (a key, an autostart folder, a plain
target for links) and remembers the state of `watch` (default: `root`), leaving out `exclude` (the folder
under test, when `watch` holds it). `changes()` lists what differs; `assert_untouched()` fails with the list.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def snapshot(watch: Path, exclude: tuple[Path, ...] = ()) -> dict[str, tuple]:
    """relative path -> (type, size, mode, content hash or link target) of everything under `watch`, links
    not followed, `exclude` folders skipped."""
    skipped = {os.path.abspath(p) for p in exclude}
    state: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(watch, followlinks=False):
        dirnames[:] = [d for d in dirnames if os.path.abspath(os.path.join(dirpath, d)) not in skipped]
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if os.path.abspath(path) in skipped:
                continue
            st = os.lstat(path)
            rel = str(path.relative_to(watch))
            if path.is_symlink():
                state[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                state[rel] = ("dir", st.st_mode)
            elif path.is_file():
                state[rel] = ("file", st.st_size, st.st_mode, _digest(path))
            else:
                state[rel] = ("other", st.st_mode)
    return state


class Decoy:
    def __init__(self, root: Path, *, watch: Path | None = None, exclude: tuple[Path, ...] = ()):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.target = self.root / "secret.txt"  # a plain file for links to point at
        self.target.write_text("a file outside the folder\n" * 10)
        (self.root / ".ssh").mkdir(exist_ok=True)
        self.key = self.root / ".ssh" / "id_rsa"
        self.key.write_text("-----BEGIN KEY-----\nnot a real key\n")
        self.autostart = self.root / ".config" / "autostart"
        self.autostart.mkdir(parents=True, exist_ok=True)
        self.watch = Path(watch) if watch is not None else self.root
        self.exclude = tuple(exclude)
        self.before = snapshot(self.watch, self.exclude)

    def remember(self) -> None:
        """Take the current state as the one to compare with (after adding decoy files of a test's own)."""
        self.before = snapshot(self.watch, self.exclude)

    def changes(self) -> list[str]:
        after = snapshot(self.watch, self.exclude)
        out = [f"created {p}" for p in sorted(set(after) - set(self.before))]
        out += [f"removed or moved {p}" for p in sorted(set(self.before) - set(after))]
        out += [f"changed {p}" for p in sorted(set(after) & set(self.before)) if after[p] != self.before[p]]
        return out

    def assert_untouched(self) -> None:
        changes = self.changes()
        assert not changes, "outside the folder: " + "; ".join(changes[:10])
