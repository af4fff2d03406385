"""Imports the modules whose ``@sweeper`` functions recover stranded work."""
import importlib

for _module in ("maiascore.jobs.scoring", "maiascore.jobs.training"):
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as exc:
        if exc.name != _module:
            raise
