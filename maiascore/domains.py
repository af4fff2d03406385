"""The modules whose event handlers (``maiascore.events``) must be connected in every process.

Imported by the web app and by the worker, explicitly: a renamed module fails at start.
"""
from maiascore.dashboards import builtin  # noqa: F401  GROUP_CREATED -> built-in dashboards
from maiascore.monitoring import challengers  # noqa: F401  MODEL_ACTIVATED -> the challenge ends
from maiascore.reports import jobs  # noqa: F401  MODEL_ACTIVATED -> release reports waiting for a model
