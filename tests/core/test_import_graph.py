"""No module of core or gui is part of an import cycle: every import arrow, also those inside functions, as
grimp (import-linter's graph library) reads them. A cycle means two modules that cannot be understood, tested
or loaded one without the other; break it by moving what both need into a module below them."""
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph():
    sys.path.insert(0, str(REPO))  # this checkout's packages, not an installed copy
    try:
        return grimp.build_graph("core", "gui", cache_dir=None)
    finally:
        sys.path.remove(str(REPO))


def import_cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a module importing itself), each sorted:
    Tarjan's algorithm, iterative (a deep graph must not hit the recursion limit)."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []
    counter = 0
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(imports[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(imports.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in imports.get(node, ()):
                    cycles.append(sorted(component))
    return cycles


def test_the_cycle_finder_finds_cycles():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"a"}}) == [["a"]]
    assert import_cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_module_in_core_or_gui_is_part_of_an_import_cycle(graph):
    ours = {m for m in graph.modules if m.split(".")[0] in ("core", "gui")}
    imports = {m: graph.find_modules_directly_imported_by(m) & ours for m in ours}
    assert len(ours) > 150  # the whole code base was read
    cycles = import_cycles(imports)
    details = []
    for cycle in cycles:
        arrows = [f"  {a} -> {b} (line {d['line_number']})" for a in cycle for b in sorted(imports[a] & set(cycle))
                  for d in graph.get_import_details(importer=a, imported=b)[:1]]
        details.append(" <-> ".join(cycle) + "\n" + "\n".join(arrows))
    assert not cycles, "import cycles:\n" + "\n".join(details)
