"""A data set read a chunk of rows at a time, as pandas frames of the file's cells (CSV as text,
Parquet typed), in the same order on every read: a resumed run skips the chunks it finished."""
import io

import pandas as pd
import pyarrow.parquet as pq

from maiascore.datasets import storage, uris
from maiascore.modeling.datasets import sniff_delimiter


def chunks(doc, rows):
    """Frames of at most ``rows`` rows of the data set ``doc`` (uploaded or registered by URI)."""
    if not doc.get("uri"):
        raw = storage.read(doc)
        delimiter = sniff_delimiter(raw[:65536].decode("utf-8-sig", errors="replace"))
        yield from _csv(io.BytesIO(raw), delimiter, rows, None)
        return
    scheme, path, root, names = uris.checked(doc["aid"], doc)  # access and file set checked at every read
    fs = uris.reader(doc, root, scheme)
    if doc["format"] == "csv":
        with fs.open(path, "rb") as handle:
            compression = doc.get("compression") if scheme != "file" else None  # file://: decompressed by fs
            yield from _csv(handle, doc.get("delimiter") or ",", rows, compression)
        return
    for name in names:
        with fs.open(name, "rb") as handle:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=rows):
                yield batch.to_pandas()


def _csv(handle, delimiter, rows, compression):
    """Cells as text, as an upload's are read (the upload's rules decide missing and numeric)."""
    yield from pd.read_csv(handle, sep=delimiter, dtype=str, keep_default_na=False, na_filter=False,
                           encoding="utf-8-sig", chunksize=rows, compression=compression)
