"""The data a training's ``meta.dataset`` names: a data set the group stored (uploaded or
registered by URI), the group's labelled score reports, or a bundled sample.

:func:`resolve` is the one place that tells them apart: the trainings service checks its
answer (``errors()``, ``shape()``) when a training is posted, the job loads it.
"""
from functools import lru_cache
from typing import NamedTuple

from config import settings
from maiascore.datasets import labelled, uris
from maiascore.datasets.service import OBJECT_ID, find_dataset
from maiascore.datasets.storage import read as read_upload
from maiascore.modeling import DatasetError, binary_target, load_sample, parse_csv
from maiascore.modeling.datasets import SAMPLES

REPORTS = "reports"
REPORTS_TARGET = labelled.TARGET
MIN_LABELLED_REPORTS = 20


class Shape(NamedTuple):
    """What the resource bounds of a training look at, known before it runs."""

    rows: int
    columns: int  # the target included
    feature_names: int | None = None  # distinct feature names, for the reports dataset only


class RowLimit(NamedTuple):
    """The most rows a load may read, and the reason it gives past them (the reader's own bound)."""

    rows: int
    reason: str


def resolve(aid, meta):
    """The source of ``meta``'s ``dataset``, ``target`` and ``positiveLabel``.

    Without ``dataset``: the group's own labelled reports once there are enough of them, else
    the bundled sample.
    """
    name = meta.get("dataset") or default_dataset(aid)
    target = meta.get("target")
    positive = meta.get("positiveLabel")
    if name == REPORTS:
        return ReportsSource(aid, target, positive)
    if name in SAMPLES:
        return SampleSource(name, target, positive)
    if OBJECT_ID.match(name):
        doc = find_dataset(aid, name)
        if doc is not None and doc.get("uri"):
            return UriSource(name, target, doc, positive)
        return UploadSource(name, target, doc, positive)
    return UnknownSource(name, target, positive)


def default_dataset(aid):
    return REPORTS if labelled.count(aid, MIN_LABELLED_REPORTS) >= MIN_LABELLED_REPORTS else "german-credit"


def _positive_errors(positive, labels):
    """``positiveLabel`` checked against the two labels, when they are known before loading."""
    if positive is None or labels is None or positive in labels:
        return {}
    return {"positiveLabel": [f"Must be one of the target's labels: '{labels[0]}' or '{labels[1]}'."]}


class ReportsSource:
    """The group's score reports whose ``outcome`` is known; the target is always that outcome."""

    def __init__(self, aid, target, positive=None):
        self.aid, self.name, self.asked, self.target, self.positive = aid, REPORTS, target, REPORTS_TARGET, positive

    def errors(self):
        if self.asked not in (None, REPORTS_TARGET):
            return {"target": [f"The reports dataset's target is always '{REPORTS_TARGET}'."]}
        return _positive_errors(self.positive, labelled.labels())

    def shape(self):
        rows = labelled.count(self.aid)
        names = labelled.feature_names(self.aid, settings().TRAINING_MAX_REPORT_FEATURES + 1)
        return Shape(rows, names + 1, names)

    def load(self, limit=None):
        return labelled.reports_dataset(self.aid), REPORTS_TARGET


@lru_cache(maxsize=None)
def sample_facts(name):
    """Rows, columns and labels of a bundled sample: it never changes, so it is read once per process."""
    dataset = load_sample(name)
    classes = binary_target(dataset, SAMPLES[name][1])
    return Shape(dataset.row_count, len(dataset.columns)), (classes.negative, classes.positive)


class SampleSource:
    """A CSV bundled with the package (``maiascore/modeling/data``)."""

    def __init__(self, name, target, positive=None):
        self.name, self.target, self.positive = name, target or SAMPLES[name][1], positive

    def errors(self):
        if self.target != SAMPLES[self.name][1]:
            return {}
        return _positive_errors(self.positive, sample_facts(self.name)[1])

    def shape(self):
        return sample_facts(self.name)[0]

    def load(self, limit=None):
        return load_sample(self.name), self.target


class UploadSource:
    """A CSV uploaded through /datasets; ``doc`` is None when the group has no such dataset (any more).

    The upload's ``positiveLabel`` holds for its own target; another target column needs its own."""

    by_reference = False

    def __init__(self, name, target, doc, positive=None):
        self.name, self.asked, self.doc = name, target, doc
        self.target = target or (doc["target"] if doc else None)
        own_target = doc is not None and self.target == doc.get("target")
        self.labels = (doc.get("negativeLabel"), doc.get("positiveLabel")) if own_target else None
        if self.labels is not None and None in self.labels:
            self.labels = None
        self.positive = positive or (self.labels[1] if self.labels else None)

    def errors(self):
        if self.doc is None:
            return {"dataset": [f"No dataset {self.name} in this account group."]}
        if self.asked is not None and self.asked not in [c["name"] for c in self.doc["columns"]]:
            return {"target": [f"The dataset has no column {self.asked!r}."]}
        return _positive_errors(self.positive, self.labels)

    def shape(self):
        return Shape(self.doc["rows"], len(self.doc["columns"]))

    def load(self, limit=None):
        if self.doc is None:
            raise DatasetError(f"dataset {self.name} no longer exists in this account group")
        return parse_csv(read_upload(self.doc), self.target), self.target


class UriSource(UploadSource):
    """A data set registered by URI: checked at POST as an upload is; loaded whole for the local
    engine (bytes, and rows up to ``limit``, counted as they are read), by partitions on Dask."""

    by_reference = True

    def load(self, limit=None):
        return uris.load(self.doc, self.target, limit), self.target

    def frame(self):
        return uris.read_frame(self.doc["aid"], self.doc)


class UnknownSource:
    """A name that is none of the above; a stored training cannot hold one, the job refuses it all the same."""

    def __init__(self, name, target, positive=None):
        self.name, self.target, self.positive = name, target, positive

    def errors(self):
        return {"dataset": [f"Must be '{REPORTS}', one of the bundled samples ({', '.join(SAMPLES)}) "
                            "or the id of an uploaded dataset."]}

    def shape(self):
        return None

    def load(self, limit=None):
        raise DatasetError(f"dataset {self.name} no longer exists in this account group")
