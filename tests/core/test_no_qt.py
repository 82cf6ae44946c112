"""core/ is the engine: importing it (and running the headless CLI) must never pull in Qt or pyqtgraph."""
import subprocess
import sys

from tests.conftest import REPO

CHECK = """
import sys, pkgutil, importlib
import core
for m in pkgutil.walk_packages(core.__path__, 'core.'):
    importlib.import_module(m.name)
import core.cli
core.cli.build_parser()
bad = sorted(n for n in sys.modules if n.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'gui', 'shiboken6'))
print('BAD', bad)
"""


def test_importing_every_core_module_loads_no_qt():
    out = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    assert "BAD []" in out.stdout, out.stdout


def test_headless_command_loads_no_qt():
    code = ("import sys; from gui.cli import main; rc = main(['train', '--help']) if False else None;"
            "import core.cli; core.cli.build_parser();"
            "print('BAD', sorted(n for n in sys.modules if n.startswith(('PySide6', 'pyqtgraph'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert "BAD []" in out.stdout, out.stdout + out.stderr
