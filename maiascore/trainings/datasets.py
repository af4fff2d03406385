"""Training data: uploaded CSVs (kept in the GridFS bucket ``datasets``), the group's labelled
score reports, and the bundled samples, all turned into a ``maiascore.modeling.Dataset``."""
import hashlib
from datetime import datetime

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import GridFSBucket
from gridfs.errors import NoFile

from maiascore.connections import get_db, utcnow
from maiascore.http.errors import abort
from maiascore.http.strapi import entry_fields, parse_list_query
from maiascore.trainings.parameters import REPORTS, REPORTS_TARGET
from maiascore.trainings.registry import to_millis

BUCKET = "datasets"
ACTIVE_STATUSES = ("scheduled", "queued", "running")
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


def list_datasets(aid, args):
    query, sort, skip, limit = parse_list_query(args, LIST_FIELDS, {"aid": aid})
    return list(get_db().datasets.find(query, {"sha256": 0}).sort(sort).skip(skip).limit(limit))


def count_datasets(aid, args):
    query, _, _, _ = parse_list_query(args, LIST_FIELDS, {"aid": aid})
    return get_db().datasets.count_documents(query)


def check_csv(raw, target):
    """Parses and checks an upload as training will; raises ``DatasetError`` with the reason."""
    from maiascore.modeling import DatasetError, labels_from, parse_csv
    from maiascore.modeling.training import MIN_ROWS_PER_CLASS

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
    from maiascore.modeling import DatasetError

    try:
        dataset = check_csv(raw, target)
    except DatasetError as exc:
        abort(400, f"Invalid dataset: {exc}")
    now = to_millis(utcnow())
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
                                        "status": {"$in": list(ACTIVE_STATUSES)}}, {"_id": 1})
    if busy:
        abort(409, f"Training {busy['_id']} still uses this dataset; cancel it (DELETE /trainings/{busy['_id']}) "
                   "or wait for it to finish")
    get_db().datasets.delete_one({"_id": doc["_id"], "aid": aid})
    try:
        _bucket().delete(doc["gridfs_id"])
    except NoFile:
        pass


def public_dataset(doc):
    return {
        **entry_fields(doc),
        "name": doc["name"],
        "rows": doc["rows"],
        "columns": doc["columns"],
        "target": doc.get("target"),
        "size": doc.get("size"),
    }


def load_training_data(aid, meta):
    """The ``Dataset`` and target a training's meta names; ``DatasetError`` says what is wrong with it."""
    from maiascore.modeling import DatasetError, load_sample, parse_csv
    from maiascore.modeling.datasets import SAMPLES

    name, target = meta["dataset"], meta.get("target")
    if name == REPORTS:
        return reports_dataset(aid), REPORTS_TARGET
    if name in SAMPLES:
        return load_sample(name), target or SAMPLES[name][1]
    doc = find_dataset(aid, name)
    if doc is None:
        raise DatasetError(f"dataset {name} no longer exists in this account group")
    try:
        raw = _bucket().open_download_stream(doc["gridfs_id"]).read()
    except NoFile:
        raise DatasetError(f"the file of dataset {name} is missing; upload it again") from None
    target = target or doc["target"]
    return parse_csv(raw, target), target


def reports_dataset(aid):
    """The group's score reports whose ``outcome`` is known, as a table: one column per feature key.

    Values become the text a CSV cell would hold (``category_text``), so a model trained
    here encodes categories exactly as scoring does.
    """
    from maiascore.modeling import Dataset, DatasetError
    from maiascore.modeling.datasets import MIN_ROWS, is_missing_token, parse_float
    from maiascore.modeling.features import category_text

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
