"""Training data: uploaded CSVs (kept in the GridFS bucket ``datasets``), the group's labelled
score reports, and the bundled samples, all turned into a ``maiascore.modeling.Dataset``.

:func:`resolve` is the one place that tells the three apart: the service checks its answer
when a training is posted, the job loads it.
"""
import hashlib
import re
from array import array
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import GridFSBucket
from gridfs.errors import NoFile

from config import settings
from maiascore.clock import stored_now
from maiascore.connections import find_in_group, get_db
from maiascore.errors import Conflict, Invalid
from maiascore.modeling import Dataset, DatasetError, binary_target, load_sample, parse_csv
from maiascore.modeling.columns import column_from_values, sparse_column
from maiascore.modeling.datasets import MIN_ROWS, SAMPLES, is_missing_token
from maiascore.modeling.features import category_text
from maiascore.modeling.training import MIN_ROWS_PER_CLASS
from maiascore.trainings.states import ACTIVE

BUCKET = "datasets"
REPORTS = "reports"
REPORTS_TARGET = "outcome"
REPORTS_LABELS = ("bad", "good")
MIN_LABELLED_REPORTS = 20
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
LIST_FIELDS = {
    "id": ("_id", ObjectId),
    "name": ("name", str),
    "rows": ("rows", int),
    "target": ("target", str),
    "size": ("size", int),
    "created_at": ("created_at", datetime),
    "updated_at": ("updated_at", datetime),
    "created_by": ("created_by", int),
}


def _bucket():
    return GridFSBucket(get_db(), BUCKET)


def _oid(raw):
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        return None


def find_dataset(aid, dataset_id):
    oid = _oid(dataset_id)
    return None if oid is None else find_in_group(get_db().datasets, oid, aid)


def list_datasets(query):
    """``query``: the route's ``ListQuery``, its filter already limited to the caller's group."""
    return list(get_db().datasets.find(query.filter, {"sha256": 0}).sort(query.sort).skip(query.skip)
                .limit(query.limit))


def count_datasets(query):
    return get_db().datasets.count_documents(query.filter)


def check_csv(raw, target, positive=None):
    """Parses and checks an upload as training will; returns the dataset and its two classes, or
    raises ``DatasetError`` with the reason."""
    limit = settings().TRAINING_MAX_COLUMNS
    header = raw[:raw.find(b"\n")] if b"\n" in raw else raw
    if max(header.count(separator) for separator in (b",", b";", b"\t")) >= limit:
        # checked before parsing: a header of a million columns must not cost the web process seconds
        raise DatasetError(f"the header has more than {limit} columns; at most {limit} are allowed "
                           "(TRAINING_MAX_COLUMNS)")
    dataset = parse_csv(raw, target)
    if dataset.target is None:
        raise DatasetError("no target column: name the label column in the 'target' field (columns: "
                           f"{', '.join(dataset.columns)})")
    if len(dataset.columns) < 2:
        raise DatasetError("the file has no feature column besides the target")
    if len(dataset.columns) > limit:
        raise DatasetError(f"the file has {len(dataset.columns)} columns; at most {limit} are allowed "
                           "(TRAINING_MAX_COLUMNS)")
    classes = binary_target(dataset, dataset.target, positive)
    for label, name in ((0, classes.negative), (1, classes.positive)):
        count = int((classes.labels == label).sum())
        if count < MIN_ROWS_PER_CLASS:
            raise DatasetError(f"class '{name}' has only {count} rows; at least {MIN_ROWS_PER_CLASS} are "
                               "needed to train, validate and test")
    return dataset, classes


def store_upload(aid, user_id, name, raw, target=None, positive=None):
    try:
        dataset, classes = check_csv(raw, target, positive)
    except DatasetError as exc:
        raise Invalid(f"Invalid dataset: {exc}") from None
    oid = ObjectId()
    gridfs_id = _bucket().upload_from_stream(f"{oid}.csv", raw, metadata={"aid": aid, "dataset": str(oid)})
    return insert_dataset(aid, user_id, name, dataset, classes, oid=oid, rows=dataset.row_count, size=len(raw),
                          sha256=hashlib.sha256(raw).hexdigest(), gridfs_id=gridfs_id)


def insert_dataset(aid, user_id, name, dataset, classes, oid=None, **fields):
    """Stores a data set, uploaded or registered by URI: one document shape for the routes and the jobs.
    ``fields``: what only its kind has (the GridFS file, the URI and the file's facts)."""
    now = stored_now()
    doc = {
        "_id": oid or ObjectId(),
        "aid": aid,
        "name": name,
        **fields,
        "columns": [{"name": c, "type": dataset.column_types[c]} for c in dataset.columns],
        "target": dataset.target,
        "positiveLabel": classes.positive,
        "negativeLabel": classes.negative,
        "created_at": now,
        "updated_at": now,
        "published_at": now,
        "created_by": user_id,
        "updated_by": user_id,
    }
    get_db().datasets.insert_one(doc)
    return doc


def delete_dataset(aid, doc):
    """Refused while a training that has not finished yet reads it."""
    busy = get_db().trainings.find_one({"aid": aid, "meta.dataset": str(doc["_id"]),
                                        "status": {"$in": list(ACTIVE)}}, {"_id": 1})
    if busy:
        raise Conflict(f"Training {busy['_id']} still uses this dataset; cancel it (DELETE /trainings/{busy['_id']}) "
                       "or wait for it to finish")
    get_db().datasets.delete_one({"_id": doc["_id"], "aid": aid})
    if doc.get("uri"):  # registered by reference (trainings.sources): the file is the customer's, left alone
        return
    try:
        _bucket().delete(doc["gridfs_id"])
    except NoFile:
        pass


class Shape(NamedTuple):
    """What the resource bounds of a training look at, known before it runs."""

    rows: int
    columns: int  # the target included
    feature_names: int | None = None  # distinct feature names, for the reports dataset only


def resolve(aid, meta):
    """The data a training's ``meta`` names in ``dataset``, ``target`` and ``positiveLabel``: a source
    whose ``errors()`` and ``shape()`` the service checks when the training is posted and whose
    ``load()`` the job runs.

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
        return UploadSource(name, target, find_dataset(aid, name), positive)
    return UnknownSource(name, target, positive)


def default_dataset(aid):
    labelled = get_db().score_reports.count_documents(_labelled_reports(aid), limit=MIN_LABELLED_REPORTS)
    return REPORTS if labelled >= MIN_LABELLED_REPORTS else "german-credit"


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
        return _positive_errors(self.positive, REPORTS_LABELS)

    def shape(self):
        rows = get_db().score_reports.count_documents(_labelled_reports(self.aid))
        names = report_feature_names(self.aid, settings().TRAINING_MAX_REPORT_FEATURES + 1)
        return Shape(rows, names + 1, names)

    def load(self):
        return reports_dataset(self.aid), REPORTS_TARGET


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

    def load(self):
        return load_sample(self.name), self.target


class UploadSource:
    """A CSV uploaded through /datasets; ``doc`` is None when the group has no such dataset (any more).

    The upload's ``positiveLabel`` holds for its own target; another target column needs its own."""

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

    def load(self):
        if self.doc is None:
            raise DatasetError(f"dataset {self.name} no longer exists in this account group")
        try:
            raw = _bucket().open_download_stream(self.doc["gridfs_id"]).read()
        except NoFile:
            raise DatasetError(f"the file of dataset {self.name} is missing; upload it again") from None
        return parse_csv(raw, self.target), self.target


class UnknownSource:
    """A name that is none of the above; a stored training cannot hold one, the job refuses it all the same."""

    def __init__(self, name, target, positive=None):
        self.name, self.target, self.positive = name, target, positive

    def errors(self):
        return {"dataset": [f"Must be '{REPORTS}', one of the bundled samples ({', '.join(SAMPLES)}) "
                            "or the id of an uploaded dataset."]}

    def shape(self):
        return None

    def load(self):
        raise DatasetError(f"dataset {self.name} no longer exists in this account group")


def _labelled_reports(aid):
    return {"aid": aid, "outcome": {"$in": list(REPORTS_LABELS)}}


def report_feature_names(aid, limit):
    """How many distinct feature names the group's labelled reports carry, counted up to ``limit``."""
    pipeline = [
        {"$match": {**_labelled_reports(aid), "features": {"$type": "object"}}},
        {"$project": {"_id": 0, "k": {"$objectToArray": "$features"}}},
        {"$unwind": "$k"},
        {"$match": {"k.k": {"$ne": REPORTS_TARGET}}},
        {"$group": {"_id": "$k.k"}},
        {"$limit": limit},
        {"$count": "n"},
    ]
    counted = list(get_db().score_reports.aggregate(pipeline))
    return counted[0]["n"] if counted else 0


def reports_dataset(aid):
    """The group's score reports whose ``outcome`` is known, as a table: one column per feature key.

    Built column by column from the cells present: each feature key keeps the row numbers and
    texts of the reports that carry it, so memory follows the cells sent, not reports x distinct
    names; each column then becomes one numpy array. Values become the text a CSV cell would
    hold (``category_text``), so a model trained here encodes categories exactly as scoring does.
    """
    limit = settings().TRAINING_MAX_REPORT_FEATURES
    cursor = get_db().score_reports.find(_labelled_reports(aid),
                                         {"_id": 0, "features": 1, "outcome": 1}).batch_size(5000)
    cells = {}  # feature name -> (row numbers, texts), in order of first appearance
    outcomes = []
    for row, doc in enumerate(cursor):
        features = doc.get("features")
        if isinstance(features, dict):
            for key, value in features.items():
                if key == REPORTS_TARGET or value is None:
                    continue  # the label itself must never be a feature
                text = category_text(value)
                if is_missing_token(text):
                    continue
                column = cells.get(key)
                if column is None:
                    if len(cells) >= limit:
                        raise DatasetError(f"the labelled score reports carry more than {limit} distinct feature "
                                           "names (TRAINING_MAX_REPORT_FEATURES)")
                    column = cells[key] = (array("q"), [])
                column[0].append(row)
                column[1].append(text)
        outcomes.append(doc["outcome"])
    if len(outcomes) < MIN_ROWS:
        raise DatasetError(f"the account group has {len(outcomes)} score reports with a known outcome (good/bad); "
                           f"at least {MIN_ROWS} are needed to train on them")
    if not cells:
        raise DatasetError("the labelled score reports carry no features")
    columns = list(cells)
    data = {}
    for name in columns:
        rows, texts = cells.pop(name)
        data[name] = sparse_column(len(outcomes), np.frombuffer(rows, dtype=np.int64), texts)
    data[REPORTS_TARGET] = column_from_values(outcomes, "categorical")
    return Dataset(columns=[*columns, REPORTS_TARGET], data=data, target=REPORTS_TARGET)
