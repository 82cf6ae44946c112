"""The headless `layerscope` command: one module per group of subcommands."""
