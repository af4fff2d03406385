"""Data sets registered by reference (``file://`` or ``s3://`` URI) instead of uploaded.

Only what lies under the operator's ``DATASET_ROOTS`` (``{aid}`` is the group's id) can be
registered or read; every file is listed and opened through :mod:`maiascore.datasets.files`,
which proves it under the group's root when it is opened, so a group reaches neither another
group's files nor ``/etc/passwd``. The file set (names and sizes) is recorded at registration and
compared at every read. Registration reads a sample (``DATASET_SAMPLE_BYTES``) and checks it with the upload's own
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
from maiascore.datasets import files
from maiascore.datasets.checks import check_csv
from maiascore.datasets.files import GroupFiles, Outside
from maiascore.errors import Forbidden, Invalid
from maiascore.modeling import DatasetError, parse_csv
from maiascore.modeling.datasets import sniff_delimiter
from maiascore.modeling.frames import frame_dataset

SCHEMES = ("file", "s3")
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = files.PARQUET_SUFFIXES
GLOB = set("*?[]{}")


def _roots(aid):
    return [root.replace("{aid}", str(aid)) for root in settings().DATASET_ROOTS.split()]


def _local(path):
    return os.path.realpath(path)


def _control(text):
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def locate(aid, uri):
    """``(scheme, path, root)`` of a URI the group may read, ``root`` the group's root holding it;
    raises Invalid or Forbidden with the reason."""
    if not isinstance(uri, str) or not uri.strip():
        raise Invalid("uri: must be a file:// or s3:// URI")
    if _control(uri) or _control(unquote(uri)):
        raise Invalid("uri: must not hold a NUL byte or another control character, encoded or not")
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
        root = next((r for r in allowed if files.within(path, r)), None)
        if root is None:
            raise Forbidden("uri: not under this account group's data roots (DATASET_ROOTS)")
        return "file", path, root
    key = posixpath.normpath("/" + unquote(parts.path)) if parts.path else "/"
    if ".." in unquote(parts.path).split("/"):
        raise Forbidden("uri: not under this account group's data roots (DATASET_ROOTS)")
    path = f"s3://{parts.netloc}{key}".rstrip("/")
    allowed = [r.rstrip("/") for r in roots if urlsplit(r).scheme == "s3"]
    root = next((r for r in allowed if path == r or path.startswith(r + "/")), None)
    if root is None:
        raise Forbidden("uri: not under this account group's data roots (DATASET_ROOTS)")
    return "s3", path, root


def listing(scheme, path, root):
    """``(filesystem, files)``: the files the data set reads, each proven under ``root`` (file://)."""
    fs = _filesystem(scheme, root)
    if scheme == "file":
        return fs, files.listing(path, root)
    if not fs.exists(path):
        raise DatasetError("no such file")
    return fs, _parquet_files(fs, path) if fs.isdir(path) else [path]


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


def _filesystem(scheme, root=None, **options):
    """The filesystem every read goes through: for file://, :class:`GroupFiles` of the group's root."""
    if scheme == "file":
        return GroupFiles(root=root, **options)
    try:
        return fsspec.filesystem(scheme)
    except ImportError:
        raise Invalid("uri: s3:// data sets are not enabled on this server (it needs the s3fs package)") from None


def _parquet_files(fs, path):
    if fs.isdir(path):
        return sorted(p for p in fs.find(path) if p.lower().endswith(PARQUET_SUFFIXES))
    return [path]


def read_sample(scheme, path, root, target=None, positive=None):
    """Checks a sample as an upload is checked; returns ``(dataset, classes, facts)`` for the stored reference."""
    try:
        fs, names = listing(scheme, path, root)
    except Outside as exc:
        raise Forbidden(f"uri: {exc}") from None
    except DatasetError as exc:
        raise Invalid(f"uri: {exc}") from None
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
            delimiter = sniff_delimiter(sample.decode("utf-8-sig", errors="replace"))
            facts = {"format": "csv", "compression": compression, "delimiter": delimiter, "size": size,
                     "rows": rows, "rowsEstimated": partial}
        else:
            if not names:
                raise DatasetError("the directory holds no .parquet file")
            with fs.open(names[0], "rb") as handle:
                first = pq.ParquetFile(handle)
                batch = next(first.iter_batches(batch_size=max(1000, limit // 200)), None)
                if batch is None:
                    raise DatasetError("file is empty")
                text = io.BytesIO()
                pa_csv.write_csv(batch, text)
            dataset, classes = check_csv(text.getvalue(), target, positive)
            rows = 0
            for name in names:
                with fs.open(name, "rb") as handle:
                    rows += pq.ParquetFile(handle).metadata.num_rows
            facts = {"format": "parquet", "compression": None, "delimiter": None,
                     "size": sum(fs.size(f) for f in names), "rows": rows, "rowsEstimated": False}
    except DatasetError as exc:
        raise Invalid(f"Invalid dataset: {exc}") from None
    except (OSError, ValueError) as exc:  # unreadable gzip, not Parquet, permission denied
        raise Invalid(f"Invalid dataset: the file cannot be read ({type(exc).__name__})") from None
    facts["fileSet"] = files.fingerprint(path, names, fs.size)
    return dataset, classes, facts


def read_limit():
    """The most decompressed bytes a read of a data set may take (DATASET_READ_MAX_BYTES)."""
    return settings().DATASET_READ_MAX_BYTES


def read_frame(aid, doc):
    """The data set as a Dask DataFrame, read partition by partition by the Dask workers: text cells
    for CSV (the upload's type rules apply to them), typed columns for Parquet. The workers open
    the files through :class:`GroupFiles`, as every reader here does."""
    scheme, path, root, names = checked(aid, doc)
    if scheme != "file":
        if doc["format"] == "parquet":
            return dd.read_parquet(names)
        return dd.read_csv(path, sep=doc.get("delimiter") or ",", dtype=str, keep_default_na=False,
                           na_filter=False, encoding="utf-8-sig", compression=doc.get("compression"),
                           blocksize=None if doc.get("compression") else settings().DASK_BLOCKSIZE)
    if doc["format"] == "parquet":
        return dd.read_parquet(names, filesystem=GroupFiles(root=root))
    gz = doc.get("compression") == "gzip"
    # a .gz file is one partition, read whole by one worker: bounded; a plain file is split (DASK_BLOCKSIZE)
    options = {"root": root, "gzip": gz, "limit": read_limit() if gz else None,
               "setting": "DATASET_READ_MAX_BYTES"}
    return dd.read_csv(f"{GroupFiles.protocol}://{path}", sep=doc.get("delimiter") or ",", dtype=str,
                       keep_default_na=False, na_filter=False, encoding="utf-8-sig", compression=None,
                       blocksize=None if gz else settings().DASK_BLOCKSIZE, storage_options=options)


def checked(aid, doc):
    """``(scheme, path, root, files)``, checked again at every read: the roots may have changed, a
    link may have moved, the file set must be the one registered."""
    try:
        scheme, path, root = locate(aid, doc["uri"])
    except (Invalid, Forbidden) as exc:
        raise DatasetError(exc.message) from None
    fs, names = listing(scheme, path, root)
    registered = doc.get("fileSet")
    if registered is not None:
        now = files.fingerprint(path, names, fs.size)
        if now != registered:
            raise DatasetError(f"the data set's files changed since it was registered ({registered['files']} "
                               f"file(s) then, {now['files']} now, or a size differs); register it again")
    return scheme, path, root, names


def reader(doc, root, scheme, limit=None):
    """The filesystem a read opens the data set's files with; a gzip CSV comes out decompressed."""
    if scheme != "file":
        return _filesystem(scheme)
    gz = doc.get("format") == "csv" and doc.get("compression") == "gzip"
    return _filesystem(scheme, root, gzip=gz, limit=limit, setting="DATASET_READ_MAX_BYTES")


def load(doc, target, limit=None):
    """The whole data set for the local engine, bytes (DATASET_READ_MAX_BYTES) and rows (``limit``, a
    ``sources.RowLimit`` or None) counted as they are read."""
    scheme, path, root, names = checked(doc["aid"], doc)
    max_bytes = read_limit()
    fs = reader(doc, root, scheme, max_bytes)
    if doc["format"] == "csv":
        compression = doc.get("compression") if scheme != "file" else None
        with fs.open(path, "rb", compression=compression) as handle:
            return parse_csv(_read_rows(handle, limit), target)
    tables, rows, size = [], 0, 0
    for name in names:
        with fs.open(name, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            rows += parquet.metadata.num_rows
            if limit is not None and rows > limit.rows:
                raise DatasetError(limit.reason)
            tables.append(parquet.read().to_pandas())
        size += int(tables[-1].memory_usage(deep=True).sum())
        if size > max_bytes:
            raise DatasetError(f"the data set holds more than {max_bytes} bytes once read; at most "
                               f"{max_bytes} are read (DATASET_READ_MAX_BYTES)")
    frame = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
    return frame_dataset(frame, target)


def _read_rows(handle, limit):
    """The whole file, its lines counted as they arrive: past ``limit``'s rows (and the header), the
    read stops naming the bound."""
    parts, lines = [], 0
    while chunk := handle.read(1 << 20):
        parts.append(chunk)
        lines += chunk.count(b"\n")
        if limit is not None and lines > limit.rows + 1:
            raise DatasetError(limit.reason)
    return b"".join(parts)
