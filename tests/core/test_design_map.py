"""docs/design.md's folder map names every package and module of core/ and gui/ (one line each), so a newcomer
finds a thing in one guess and the map cannot fall behind the code."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def mapped_paths() -> set[str]:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text[text.index("## Where each feature lives"):]
    block = section[section.index("```") + 3:]
    block = block[: block.index("```")]
    found, folders = set(), {}  # folders: depth -> the folder path at that depth
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        name = line.split()[0]
        depth = indent // 2
        if name.endswith("/") and (depth == 0 or depth - 1 in folders):
            path = name if depth == 0 else folders[depth - 1] + name
            folders = {d: p for d, p in folders.items() if d < depth}
            folders[depth] = path
            found.add(path)
        elif name.endswith(".py") and depth - 1 in folders:
            found.add(folders[depth - 1] + name)
    return found


def code_paths() -> set[str]:
    paths = set()
    for top in ("core", "gui"):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            paths.add(rel[: -len("__init__.py")] if path.name == "__init__.py" else rel)
    return paths


def test_every_package_and_module_has_its_line_in_the_folder_map():
    missing = sorted(code_paths() - mapped_paths())
    assert not missing, f"docs/design.md's folder map lacks: {missing}"


def test_the_folder_map_names_nothing_that_is_gone():
    gone = sorted(p for p in mapped_paths() - code_paths() if p.startswith(("core/", "gui/")))
    assert not gone, f"docs/design.md's folder map names what no longer exists: {gone}"
