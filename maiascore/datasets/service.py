"""Data sets as the group stores them: uploaded CSVs (bytes in :mod:`.storage`) and files
registered by reference (:mod:`.uris`), one document shape for both in the ``datasets`` collection."""
import hashlib
import posixpath
import re
from datetime import datetime

from bson import ObjectId
from bson.errors import InvalidId

from maiascore.clock import stored_now
from maiascore.connections import find_in_group, get_db
from maiascore.datasets import storage, uris
from maiascore.datasets.checks import check_csv
from maiascore.errors import Invalid
from maiascore.events import DATASET_DELETING
from maiascore.modeling import DatasetError

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


def store_upload(aid, user_id, name, raw, target=None, positive=None):
    try:
        dataset, classes = check_csv(raw, target, positive)
    except DatasetError as exc:
        raise Invalid(f"Invalid dataset: {exc}") from None
    oid = ObjectId()
    gridfs_id = storage.put(aid, oid, raw)
    return insert_dataset(aid, user_id, name, dataset, classes, oid=oid, rows=dataset.row_count, size=len(raw),
                          sha256=hashlib.sha256(raw).hexdigest(), gridfs_id=gridfs_id)


def register(aid, user_id, uri, name=None, target=None, positiveLabel=None):  # noqa: N803  the API's name
    """A file by reference: only the URI and the file's facts are stored, the file stays where it lies."""
    scheme, path, root = uris.locate(aid, uri)
    dataset, classes, facts = uris.read_sample(scheme, path, root, target, positiveLabel)
    return insert_dataset(aid, user_id, (name or posixpath.basename(path.rstrip("/")) or "dataset")[:200],
                          dataset, classes, uri=uri.strip(), **facts)


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
    """Refused (a ``DATASET_DELETING`` handler raises Conflict) while a training that has not finished reads it."""
    DATASET_DELETING.send(aid=aid, dataset_id=str(doc["_id"]))
    get_db().datasets.delete_one({"_id": doc["_id"], "aid": aid})
    if doc.get("uri"):  # registered by reference: the file is the customer's, left alone
        return
    storage.delete(doc)
