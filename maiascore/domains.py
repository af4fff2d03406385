"""The modules whose event handlers (``maiascore.events``) must be connected in every process, and
the reader of labelled reports that data sets (a layer below reports) train on.

Imported by the web app and by the worker, explicitly: a renamed module fails at start.
"""
from maiascore.dashboards import builtin  # noqa: F401  GROUP_CREATED -> built-in dashboards
from maiascore.monitoring import baselines, challengers  # noqa: F401  MODEL_TRAINED/STORED -> a version's baseline; MODEL_ACTIVATED -> the challenge ends
from maiascore.datasets import labelled as labelled_table
from maiascore.reports import batch_lane, labelled  # noqa: F401  batch_lane: MODEL_ACTIVATED -> release waiting reports
from maiascore.trainings import jobs as training_jobs  # noqa: F401  DATASET_DELETING -> refused while in use

labelled_table.connect(labelled)
