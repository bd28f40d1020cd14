"""The command line: `./renderlite <command>` runs `python -m cli`."""
