"""`python -m core.cli ...`: the headless `layerscope` command (what torchrun and the app's jobs start)."""
import sys

from core.cli.main import main
from core.io.signals import run_main

if __name__ == "__main__":  # not when a tool merely imports every module (tests/core/test_no_qt.py does)
    sys.exit(run_main(main))  # a Ctrl+C while the command returns or Python exits keeps its status, never -2
