"""Data sets registered by reference (``file://`` or ``s3://`` URI) instead of uploaded.

Only what lies under the operator's ``DATASET_ROOTS`` (``{aid}`` is the group's id) can be
registered or read; a ``file://`` path is resolved (symlinks included) before the check and
again before every read, so a group reaches neither another group's files nor ``/etc/passwd``.
Registration reads a sample (``DATASET_SAMPLE_BYTES``) and checks it with the upload's own
parser, so a bad file gets the upload's 400. Only the URI is stored: object-storage
credentials come from the environment of the processes that read (fsspec/s3fs), never MongoDB.
"""
import gzip
import io
import os
import posixpath
from urllib.parse import unquote, urlsplit

import dask.dataframe as dd
import fsspec
import pandas as pd
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from config import settings
from maiascore.errors import Forbidden, Invalid
from maiascore.modeling import DatasetError, parse_csv
from maiascore.modeling.datasets import _sniff_delimiter
from maiascore.modeling.frames import frame_dataset
from maiascore.trainings import datasets
from maiascore.trainings.datasets import OBJECT_ID, UploadSource, check_csv, find_dataset

SCHEMES = ("file", "s3")
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
GLOB = set("*?[]{}")


def resolve(aid, meta):
    """:func:`maiascore.trainings.datasets.resolve`, with data sets registered by URI recognised first."""
    name = meta.get("dataset")
    if isinstance(name, str) and OBJECT_ID.match(name):
        doc = find_dataset(aid, name)
        if doc is not None and doc.get("uri"):
            return UriSource(name, meta.get("target"), doc, meta.get("positiveLabel"))
    return datasets.resolve(aid, meta)


def _roots(aid):
    return [root.replace("{aid}", str(aid)) for root in settings().DATASET_ROOTS.split()]


def _local(path):
    return os.path.realpath(path)


def _within(path, root):
    return os.path.commonpath([path, root]) == root


def locate(aid, uri):
    """``(scheme, path)`` of a URI the group may read; raises Invalid or Forbidden with the reason."""
    if not isinstance(uri, str) or not uri.strip():
        raise Invalid("uri: must be a file:// or s3:// URI")
    parts = urlsplit(uri.strip())
    if parts.scheme not in SCHEMES:
        raise Invalid("uri: must be a file:// or s3:// URI (object storage needs s3fs installed on the server)")
    if parts.query or parts.fragment or GLOB & set(uri):
        raise Invalid("uri: must name one file or one Parquet directory, without a query, fragment or pattern")
    roots = _roots(aid)
    if not roots:
        raise Forbidden("Data sets by URI are disabled: the operator has set no DATASET_ROOTS")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise Invalid("uri: a file:// URI names a path on this host (file:///path)")
        path = _local(unquote(parts.path))
        allowed = [_local(unquote(urlsplit(r).path)) for r in roots if urlsplit(r).scheme == "file"]
        if not any(_within(path, root) for root in allowed):
            raise Forbidden("uri: not under this account group's data roots (DATASET_ROOTS)")
        if os.path.isdir(path):
            for name in os.listdir(path):
                if not _within(_local(os.path.join(path, name)), path):
                    raise Forbidden("uri: the directory links outside this account group's data roots")
        return "file", path
    key = posixpath.normpath("/" + unquote(parts.path)) if parts.path else "/"
    if ".." in unquote(parts.path).split("/"):
        raise Forbidden("uri: not under this account group's data roots (DATASET_ROOTS)")
    path = f"s3://{parts.netloc}{key}".rstrip("/")
    allowed = [r.rstrip("/") for r in roots if urlsplit(r).scheme == "s3"]
    if not any(path == r or path.startswith(r + "/") for r in allowed):
        raise Forbidden("uri: not under this account group's data roots (DATASET_ROOTS)")
    return "s3", path


def file_format(path, fs):
    """``(format, compression)`` from the name; a directory is read as Parquet files."""
    lower = path.lower()
    compression = None
    if lower.endswith(".gz"):
        compression, lower = "gzip", lower[:-3]
    if lower.endswith(CSV_SUFFIXES):
        return "csv", compression
    if compression is None and (lower.endswith(PARQUET_SUFFIXES) or fs.isdir(path)):
        return "parquet", None
    raise Invalid("uri: unknown format; name a .csv/.tsv/.txt file (optionally .gz), a .parquet file or a "
                  "directory of .parquet files")


def _filesystem(scheme):
    try:
        return fsspec.filesystem(scheme)
    except ImportError:
        raise Invalid("uri: s3:// data sets are not enabled on this server (it needs the s3fs package)") from None


def _parquet_files(fs, path):
    if fs.isdir(path):
        return sorted(p for p in fs.find(path) if p.lower().endswith(PARQUET_SUFFIXES))
    return [path]


def read_sample(scheme, path, target=None, positive=None):
    """Checks a sample as an upload is checked; returns ``(dataset, classes, facts)`` for the stored reference."""
    fs = _filesystem(scheme)
    if not fs.exists(path):
        raise Invalid("uri: no such file")
    fmt, compression = file_format(path, fs)
    limit = settings().DATASET_SAMPLE_BYTES
    try:
        if fmt == "csv":
            size = fs.size(path)
            with fs.open(path, "rb") as raw:
                stream = gzip.GzipFile(fileobj=raw) if compression else raw
                sample = stream.read(limit + 1)
                consumed = raw.tell()
            partial = len(sample) > limit
            if partial:
                sample = sample[: sample.rfind(b"\n", 0, limit) + 1]
            dataset, classes = check_csv(sample, target, positive)
            rows = dataset.row_count if not partial else round(dataset.row_count * size / max(1, consumed))
            delimiter = _sniff_delimiter(sample.decode("utf-8-sig", errors="replace"))
            facts = {"format": "csv", "compression": compression, "delimiter": delimiter, "size": size,
                     "rows": rows, "rowsEstimated": partial}
        else:
            files = _parquet_files(fs, path)
            if not files:
                raise DatasetError("the directory holds no .parquet file")
            with fs.open(files[0], "rb") as handle:
                first = pq.ParquetFile(handle)
                batch = next(first.iter_batches(batch_size=max(1000, limit // 200)), None)
                if batch is None:
                    raise DatasetError("file is empty")
                text = io.BytesIO()
                pa_csv.write_csv(batch, text)
            dataset, classes = check_csv(text.getvalue(), target, positive)
            rows = 0
            for name in files:
                with fs.open(name, "rb") as handle:
                    rows += pq.ParquetFile(handle).metadata.num_rows
            facts = {"format": "parquet", "compression": None, "delimiter": None,
                     "size": sum(fs.size(f) for f in files), "rows": rows, "rowsEstimated": False}
    except DatasetError as exc:
        raise Invalid(f"Invalid dataset: {exc}") from None
    except (OSError, ValueError) as exc:  # unreadable gzip, not Parquet, permission denied
        raise Invalid(f"Invalid dataset: the file cannot be read ({type(exc).__name__})") from None
    return dataset, classes, facts


def register(aid, user_id, uri, name=None, target=None, positiveLabel=None):  # noqa: N803  the API's name
    scheme, path = locate(aid, uri)
    dataset, classes, facts = read_sample(scheme, path, target, positiveLabel)
    return datasets.insert_dataset(aid, user_id, (name or posixpath.basename(path.rstrip("/")) or "dataset")[:200],
                                   dataset, classes, uri=uri.strip(), **facts)


def read_frame(aid, doc, target):
    """The data set as a Dask DataFrame, read partition by partition by the Dask workers: text cells
    for CSV (the upload's type rules apply to them), typed columns for Parquet."""
    scheme, path = _checked(aid, doc)
    if doc["format"] == "parquet":
        return dd.read_parquet(path)
    blocksize = None if doc.get("compression") else settings().DASK_BLOCKSIZE
    return dd.read_csv(path, sep=doc.get("delimiter") or ",", dtype=str, keep_default_na=False, na_filter=False,
                       encoding="utf-8-sig", blocksize=blocksize, compression=doc.get("compression"))


def _checked(aid, doc):
    """Access is checked again at every read: the roots may have changed, a link may have moved."""
    try:
        return locate(aid, doc["uri"])
    except (Invalid, Forbidden) as exc:
        raise DatasetError(exc.message) from None


class UriSource(UploadSource):
    """A data set registered by URI: checked at POST as an upload is; loaded whole for the local
    engine, by partitions on Dask."""

    by_reference = True

    def load(self):
        scheme, path = _checked(self.doc["aid"], self.doc)
        fs = _filesystem(scheme)
        if self.doc["format"] == "csv":
            with fs.open(path, "rb", compression=self.doc.get("compression")) as handle:
                return parse_csv(handle.read(), self.target), self.target
        tables = []
        for name in _parquet_files(fs, path):
            with fs.open(name, "rb") as handle:
                tables.append(pq.read_table(handle).to_pandas())
        frame = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
        return frame_dataset(frame, self.target), self.target

    def frame(self):
        return read_frame(self.doc["aid"], self.doc, self.target)
