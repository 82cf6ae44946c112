"""`python -m core.cli ...`: the headless `layerscope` command (what torchrun and the app's jobs start)."""
import sys

from core.cli.main import main
from core.io.signals import run_main

sys.exit(run_main(main))  # a Ctrl+C while the command returns or Python exits keeps its status (130), never -2
