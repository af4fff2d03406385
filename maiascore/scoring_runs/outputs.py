"""The result file of a scoring run, written a part per chunk (a run into reports writes them with
``maiascore.reports.scoring.upsert_scored``).

A part is idempotent per chunk, which is what makes a run resumable: a chunk scored again
after a worker was killed replaces its own part. The file is assembled from the parts once
every chunk is done.
"""
import io
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
from bson import ObjectId
from gridfs import GridFSBucket
from gridfs.errors import NoFile

from maiascore.connections import get_db
from maiascore.scoring_runs.states import CSV

BUCKET = "scoring_runs"
MIME = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


def bucket():
    return GridFSBucket(get_db(), BUCKET)


# --- result file --------------------------------------------------------------------------------

def write_part(run, chunk, table, fmt):
    """The chunk's part of the result file; a part of the same chunk from an earlier attempt is replaced."""
    buffer = io.BytesIO()
    if fmt == CSV:
        table.to_csv(buffer, index=False)
    else:
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), buffer)
    store = bucket()
    new_id = store.upload_from_stream(f"{run['_id']}-part-{chunk:06d}.{fmt}", buffer.getvalue(),
                                      metadata={"aid": run["aid"], "run": run["_id"], "chunk": chunk,
                                                "rows": len(table)})
    for old in get_db()[f"{BUCKET}.files"].find({"metadata.run": run["_id"], "metadata.chunk": chunk,
                                                 "_id": {"$ne": new_id}}, {"_id": 1}):
        _delete(store, old["_id"])


def _parts(run_id):
    return list(get_db()[f"{BUCKET}.files"].find({"metadata.run": run_id, "metadata.chunk": {"$exists": True}},
                                                 {"_id": 1, "metadata": 1}).sort("metadata.chunk", 1))


def assemble(run, fmt):
    """Joins the parts in chunk order into the result file (spooled on local disk), stores it, drops
    the parts. Returns ``(file id, size, rows)``; run again after a crash it assembles again."""
    store = bucket()
    parts = _parts(run["_id"])
    rows = sum(part["metadata"].get("rows", 0) for part in parts)
    with tempfile.TemporaryFile() as out:
        if fmt == CSV:
            for n, part in enumerate(parts):
                data = store.open_download_stream(part["_id"]).read()
                if n:
                    data = data[data.index(b"\n") + 1:]
                out.write(data)
        else:
            writer = None
            for part in parts:
                table = pq.read_table(io.BytesIO(store.open_download_stream(part["_id"]).read()))
                if writer is None:
                    schema = _widened(table.schema)
                    writer = pq.ParquetWriter(out, schema)
                writer.write_table(table.cast(schema))
            if writer is not None:
                writer.close()
        size = out.tell()
        out.seek(0)
        filename = f"scoring-run-{run['_id']}.{fmt}"
        file_id = store.upload_from_stream(filename, out, metadata={"aid": run["aid"], "run": run["_id"],
                                                                   "result": True})
    return {"fileId": file_id, "filename": filename, "format": fmt, "size": size, "rows": rows}


def drop_parts(run_id):
    store = bucket()
    for part in _parts(run_id):
        _delete(store, part["_id"])


def _widened(schema):
    """A key column that was all missing in the first part is text in the file."""
    return pa.schema([pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type) for f in schema])


def open_result(result):
    return bucket().open_download_stream(ObjectId(result["fileId"]))


def delete_files(run_id):
    """The run's result file and any part left over."""
    store = bucket()
    for doc in get_db()[f"{BUCKET}.files"].find({"metadata.run": run_id}, {"_id": 1}):
        _delete(store, doc["_id"])


def _delete(store, file_id):
    try:
        store.delete(file_id)
    except NoFile:
        pass


def drop_other_results(run_id, keep):
    """Result files of earlier attempts that were assembled but never recorded."""
    store = bucket()
    for doc in get_db()[f"{BUCKET}.files"].find({"metadata.run": run_id, "metadata.result": True,
                                                 "_id": {"$ne": keep}}, {"_id": 1}):
        _delete(store, doc["_id"])
