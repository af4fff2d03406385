"""Uploaded CSVs, kept whole in the GridFS bucket ``datasets``: one file per data set."""
from gridfs import GridFSBucket
from gridfs.errors import NoFile

from maiascore.connections import get_db
from maiascore.modeling import DatasetError

BUCKET = "datasets"


def _bucket():
    return GridFSBucket(get_db(), BUCKET)


def put(aid, oid, raw):
    """Stores the bytes of data set ``oid``; returns the GridFS id its document keeps."""
    return _bucket().upload_from_stream(f"{oid}.csv", raw, metadata={"aid": aid, "dataset": str(oid)})


def read(doc):
    """The uploaded bytes of ``doc``; a missing file is a DatasetError the customer can act on."""
    try:
        return _bucket().open_download_stream(doc["gridfs_id"]).read()
    except NoFile:
        raise DatasetError(f"the file of dataset {doc['_id']} is missing; upload it again") from None


def delete(doc):
    try:
        _bucket().delete(doc["gridfs_id"])
    except NoFile:
        pass
