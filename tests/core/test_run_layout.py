"""One place names a run folder's files (core/runs/layout.py): no other module of core/, gui/ or benchmarks/
spells them. Docstrings and comments may mention them; code, messages and help texts take them from the layout."""
import ast
from pathlib import Path

import pytest

from core.runs import layout
from core.runs.layout import RunLayout

ROOT = Path(__file__).resolve().parents[2]
LAYOUT_MODULE = ROOT / "core" / "runs" / "layout.py"
# Names nobody else uses for anything: found inside any string (a message, an f-string's text).
DISTINCT = (layout.CONFIG, layout.METRICS, layout.LAST, layout.BEST, layout.META, layout.CONTROL,
            layout.LAUNCHER_LOG, layout.TOPK, layout.PROBES_INDEX, layout.PROBES_TIMELINE, layout.PROBES_TRUE_CLASSES,
            layout.LAYER_HEALTH,
            layout.PREVIOUS_PREFIX, layout.JOB_SETTINGS_PREFIX, layout.LOCK, layout.TRASH,
            layout.LR_FIND_CSV, layout.LR_FIND_JSON, layout.LR_FIND_PNG, layout.TRIAL_FILE, layout.TRIAL_LOG,
            layout.SWEEP_FILE, layout.STUDY_DB, layout.RESULTS_CSV, layout.IMPORTANCES_JSON, layout.BANK_SUFFIX)
# Ordinary words ("eval", "dossier" is also a command, "probes" a JSON key): found where a path is built from
# them, as an operand of `/` or an argument of Path() / os.path.join(), alone or as an f-string's first part.
FOLDERS = (layout.RANKS, layout.EVAL, layout.TENSORBOARD, layout.DOSSIER, layout.PROBES, layout.FEATUREVIS,
           layout.FEATUREVIS_EPOCHS, layout.CONCEPTS, layout.LR_FIND, layout.TRIAL, layout.TRIALS, layout.FAMILIARITY)
RANK_FILE = layout.RANK_PREFIX


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _strings_of(node: ast.AST) -> list[str]:
    """The literal text of a str constant or an f-string (its constant parts)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return []


def _leaves(node: ast.AST) -> list[ast.AST]:
    """The values an expression may take: both arms of `a if c else b`, each operand of `a or b`."""
    if isinstance(node, ast.IfExp):
        return _leaves(node.body) + _leaves(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [leaf for value in node.values for leaf in _leaves(value)]
    return [node]


def _path_parts(tree: ast.AST) -> list[ast.AST]:
    """Operands of `/`, arguments of Path(...), os.path.join(...), .joinpath(...), and constants given a
    name of their own (`SUBDIR = "tensorboard"`)."""
    parts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts += _leaves(node.left) + _leaves(node.right)
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("Path", "join", "joinpath", "PurePath"):
                parts += [leaf for arg in node.args for leaf in _leaves(arg)]
        elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets):
            parts += _leaves(node.value)
    return parts


def literal_run_names(source: str) -> list[tuple[int, str]]:
    """(line, name) of every run-file name written as a literal in `source`."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.Constant) or not isinstance(node.value, (str, bytes)):
            continue
        text = node.value if isinstance(node.value, str) else node.value.decode("utf-8", "replace")
        found += [(node.lineno, name) for name in DISTINCT if name in text]
        if text.startswith(RANK_FILE) and text[len(RANK_FILE):][:1] in ("", "{", "*"):
            found.append((node.lineno, RANK_FILE))
    for part in _path_parts(tree):
        texts = _strings_of(part)
        if texts and any(texts[0] == name or texts[0].startswith(name + "-") for name in FOLDERS):
            found.append((part.lineno, texts[0]))
    return found


def modules():
    for folder in ("core", "gui", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path != LAYOUT_MODULE:
                yield path


def test_no_module_spells_a_run_file_name_outside_the_layout():
    offenders = []
    for path in modules():
        for line, name in literal_run_names(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {name!r}")
    assert not offenders, "take these names from core.runs.layout:\n" + "\n".join(offenders)


@pytest.mark.parametrize("source, expected", [
    ('p = run / "metrics.jsonl"', ["metrics.jsonl"]),
    ('raise X(f"{run} has no last.pt yet")', ["last.pt"]),
    ('out = run / ("eval" if val else f"eval-{split}")', ["eval", "eval-"]),
    ('p = Path(run, "ranks")', ["ranks"]),
    ('p = run / f"previous-{stamp}"', ["previous-"]),
    ('p = d.glob("rank-*.json")', ["rank-"]),
    ('os.write(2, b"saving last.pt")', ["last.pt"]),
    ('def f():\n    """Reads RUN/metrics.jsonl and RUN/ranks/."""\n    return 1', []),  # a docstring may say it
    ('SUBDIR = "tensorboard"', ["tensorboard"]),
    ('HANDLERS = {"dossier": cmd}\nsnap["probes"]\nmodel.eval()\nkind = "eval"', []),  # the same words, not paths
])
def test_the_scan_finds_literals_in_code_and_messages_but_not_in_docstrings(source, expected):
    assert sorted(name for _, name in literal_run_names(source)) == sorted(expected)


def test_the_layout_names_every_path_of_a_run_folder(tmp_path):
    run = RunLayout(tmp_path / "run")
    assert run.metrics == tmp_path / "run" / "metrics.jsonl"
    assert run.rank_status(3) == tmp_path / "run" / "ranks" / "rank-3.json"
    assert run.eval_dir() == tmp_path / "run" / "eval" and run.eval_dir("test") == tmp_path / "run" / "eval-test"
    assert run.topk == tmp_path / "run" / "dossier" / "topk.npz"
    assert run.featurevis_epoch(3) == tmp_path / "run" / "featurevis" / "epochs" / "epoch-0003"
    assert run.concepts == tmp_path / "run" / "featurevis" / "concepts"
    assert run.previous("20261205-1200", 2).name == "previous-20261205-1200-2"
    assert run.checkpoint("best") == run.best_checkpoint and run.checkpoint("last") == run.last_checkpoint
    assert not run.is_run_folder() and run.used_files() == []
    run.path.mkdir()
    run.metrics.write_text("")
    run.rank_status(0).parent.mkdir()
    run.rank_status(1).write_text("{}")
    run.rank_status(0).write_text("{}")
    assert run.is_run_folder() and run.used_files() == ["metrics.jsonl"]
    assert [p.name for p in run.rank_statuses()] == ["rank-0.json", "rank-1.json"]
    assert layout.metrics_file(run.path) == run.metrics and layout.metrics_file(run.metrics) == run.metrics


def test_the_layout_names_the_tuning_files_of_a_run_and_of_a_sweep(tmp_path):
    run = RunLayout(tmp_path / "sweep" / "trials" / "0003")
    assert run.lr_find == run.path / "lr_find"
    assert run.trial_file == run.path / "sweep" / "trial.json" and run.trial_log.name == "train.log"
    sweep = layout.SweepLayout(tmp_path / "sweep")
    assert sweep.trial(3) == run.path and sweep.results_csv.name == "results.csv"
    assert sweep.default_storage() == f"sqlite:///{(tmp_path / 'sweep' / 'study.db').resolve()}"
    assert not sweep.is_sweep_folder() and sweep.trial_folders() == []
    for name in ("0010", "0002", "notes", "0003"):
        (sweep.trials / name).mkdir(parents=True)
    sweep.sweep_file.write_text("{}")
    assert sweep.is_sweep_folder() and [p.name for p in sweep.trial_folders()] == ["0002", "0003", "0010"]
