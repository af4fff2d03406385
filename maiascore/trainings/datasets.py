"""Training data: uploaded CSVs (kept in the GridFS bucket ``datasets``), the group's labelled
score reports, and the bundled samples, all turned into a ``maiascore.modeling.Dataset``.

:func:`resolve` is the one place that tells the three apart: the service checks its answer
when a training is posted, the job loads it.
"""
import hashlib
import re
from datetime import datetime

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import GridFSBucket
from gridfs.errors import NoFile

from maiascore.clock import stored_now
from maiascore.connections import get_db
from maiascore.errors import Conflict, Invalid
from maiascore.modeling import Dataset, DatasetError, labels_from, load_sample, parse_csv
from maiascore.modeling.datasets import MIN_ROWS, SAMPLES, is_missing_token, parse_float
from maiascore.modeling.features import category_text
from maiascore.modeling.training import MIN_ROWS_PER_CLASS
from maiascore.trainings.states import ACTIVE

BUCKET = "datasets"
REPORTS = "reports"
REPORTS_TARGET = "outcome"
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
    return None if oid is None else get_db().datasets.find_one({"_id": oid, "aid": aid})


def list_datasets(query):
    """``query``: the route's ``ListQuery``, its filter already limited to the caller's group."""
    return list(get_db().datasets.find(query.filter, {"sha256": 0}).sort(query.sort).skip(query.skip)
                .limit(query.limit))


def count_datasets(query):
    return get_db().datasets.count_documents(query.filter)


def check_csv(raw, target):
    """Parses and checks an upload as training will; raises ``DatasetError`` with the reason."""
    dataset = parse_csv(raw, target)
    if dataset.target is None:
        raise DatasetError("no target column: name the label column in the 'target' field (columns: "
                           f"{', '.join(dataset.columns)})")
    if len(dataset.columns) < 2:
        raise DatasetError("the file has no feature column besides the target")
    labels = labels_from(dataset, dataset.target)
    for label, name in ((0, "bad"), (1, "good")):
        count = int((labels == label).sum())
        if count < MIN_ROWS_PER_CLASS:
            raise DatasetError(f"class '{name}' has only {count} rows; at least {MIN_ROWS_PER_CLASS} are "
                               "needed to train, validate and test")
    return dataset


def store_upload(aid, user_id, name, raw, target=None):
    try:
        dataset = check_csv(raw, target)
    except DatasetError as exc:
        raise Invalid(f"Invalid dataset: {exc}") from None
    now = stored_now()
    oid = ObjectId()
    gridfs_id = _bucket().upload_from_stream(f"{oid}.csv", raw, metadata={"aid": aid, "dataset": str(oid)})
    doc = {
        "_id": oid,
        "aid": aid,
        "name": name,
        "rows": dataset.row_count,
        "columns": [{"name": c, "type": dataset.column_types[c]} for c in dataset.columns],
        "target": dataset.target,
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "gridfs_id": gridfs_id,
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


def resolve(aid, meta):
    """The data a training's ``meta`` names in ``dataset`` and ``target``: a source whose ``errors()``
    the service reports when the training is posted and whose ``load()`` the job runs.

    Without ``dataset``: the group's own labelled reports once there are enough of them, else
    the bundled sample.
    """
    name = meta.get("dataset") or default_dataset(aid)
    target = meta.get("target")
    if name == REPORTS:
        return ReportsSource(aid, target)
    if name in SAMPLES:
        return SampleSource(name, target)
    if OBJECT_ID.match(name):
        return UploadSource(name, target, find_dataset(aid, name))
    return UnknownSource(name, target)


def default_dataset(aid):
    labelled = get_db().score_reports.count_documents(
        {"aid": aid, "outcome": {"$in": ["good", "bad"]}}, limit=MIN_LABELLED_REPORTS)
    return REPORTS if labelled >= MIN_LABELLED_REPORTS else "german-credit"


class ReportsSource:
    """The group's score reports whose ``outcome`` is known; the target is always that outcome."""

    def __init__(self, aid, target):
        self.aid, self.name, self.asked, self.target = aid, REPORTS, target, REPORTS_TARGET

    def errors(self):
        if self.asked not in (None, REPORTS_TARGET):
            return {"target": [f"The reports dataset's target is always '{REPORTS_TARGET}'."]}
        return {}

    def load(self):
        return reports_dataset(self.aid), REPORTS_TARGET


class SampleSource:
    """A CSV bundled with the package (``maiascore/modeling/data``)."""

    def __init__(self, name, target):
        self.name, self.target = name, target or SAMPLES[name][1]

    def errors(self):
        return {}

    def load(self):
        return load_sample(self.name), self.target


class UploadSource:
    """A CSV uploaded through /datasets; ``doc`` is None when the group has no such dataset (any more)."""

    def __init__(self, name, target, doc):
        self.name, self.asked, self.doc = name, target, doc
        self.target = target or (doc["target"] if doc else None)

    def errors(self):
        if self.doc is None:
            return {"dataset": [f"No dataset {self.name} in this account group."]}
        if self.asked is not None and self.asked not in [c["name"] for c in self.doc["columns"]]:
            return {"target": [f"The dataset has no column {self.asked!r}."]}
        return {}

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

    def __init__(self, name, target):
        self.name, self.target = name, target

    def errors(self):
        return {"dataset": [f"Must be '{REPORTS}', one of the bundled samples ({', '.join(SAMPLES)}) "
                            "or the id of an uploaded dataset."]}

    def load(self):
        raise DatasetError(f"dataset {self.name} no longer exists in this account group")


def reports_dataset(aid):
    """The group's score reports whose ``outcome`` is known, as a table: one column per feature key.

    Values become the text a CSV cell would hold (``category_text``), so a model trained
    here encodes categories exactly as scoring does.
    """
    cursor = get_db().score_reports.find({"aid": aid, "outcome": {"$in": ["good", "bad"]}},
                                         {"_id": 0, "features": 1, "outcome": 1}).batch_size(5000)
    names = {}
    records = []
    for doc in cursor:
        row = {}
        features = doc.get("features")
        if isinstance(features, dict):
            for key, value in features.items():
                if key == REPORTS_TARGET:
                    continue  # the label itself must never be a feature
                names.setdefault(key, None)
                text = None if value is None else category_text(value)
                row[key] = None if text is None or is_missing_token(text) else text
        records.append((row, doc["outcome"]))
    if len(records) < MIN_ROWS:
        raise DatasetError(f"the account group has {len(records)} score reports with a known outcome (good/bad); "
                           f"at least {MIN_ROWS} are needed to train on them")
    columns = list(names)
    if not columns:
        raise DatasetError("the labelled score reports carry no features")
    rows = []
    numeric = dict.fromkeys(columns, True)
    for row, outcome in records:
        full = {name: row.get(name) for name in columns}
        for name, value in row.items():
            if numeric[name] and value is not None and parse_float(value) is None:
                numeric[name] = False
        full[REPORTS_TARGET] = outcome
        rows.append(full)
    types = {name: "numeric" if numeric[name] else "categorical" for name in columns}
    types[REPORTS_TARGET] = "categorical"
    return Dataset(columns=[*columns, REPORTS_TARGET], rows=rows, column_types=types, target=REPORTS_TARGET)
