"""`python -m core.cli ...`: the headless `layerscope` command (what torchrun and the app's jobs start)."""
import sys

from core.cli.main import main

sys.exit(main())
