"""core/ is the engine: importing it (and running the headless CLI) must never pull in Qt or pyqtgraph."""
import subprocess
import sys

from tests.conftest import REPO

CHECK = """
import sys, pkgutil, importlib
import core
for m in pkgutil.walk_packages(core.__path__, 'core.'):
    if not m.name.endswith('.__main__'):  # `python -m core.cli` runs the command when imported
        importlib.import_module(m.name)
import core.cli.main
core.cli.main.build_parser()
bad = sorted(n for n in sys.modules if n.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'gui', 'shiboken6'))
print('BAD', bad)
"""


def test_importing_every_core_module_loads_no_qt():
    out = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    assert "BAD []" in out.stdout, out.stdout


HEADLESS = """
import sys
from gui.cli import main
try:
    main(['train', '--help'])  # the console entry point, dispatching to core.cli.main
except SystemExit as exc:
    assert exc.code == 0, exc.code
print('BAD', sorted(n for n in sys.modules if n.startswith(('PySide6', 'pyqtgraph', 'shiboken6'))))
print('TORCH', 'torch' in sys.modules)
"""


def test_headless_command_loads_no_qt():
    out = subprocess.run([sys.executable, "-c", HEADLESS], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    assert "--dataset" in out.stdout and "--epochs" in out.stdout  # the help really ran
    assert "BAD []" in out.stdout, out.stdout + out.stderr
    assert "TORCH False" in out.stdout, "`train --help` is built from core.catalog and needs no torch"
