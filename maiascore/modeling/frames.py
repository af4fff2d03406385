"""Data read by pandas (a Dask partition, a Parquet file) turned into the same typed ``Dataset``
an upload becomes, and the per-partition steps of a distributed training.

Cells go through the upload's own ``ColumnBuilder``, so a column is numeric, categorical,
missing or out of range by exactly the rules of :func:`maiascore.modeling.parse_csv`, and a
model trained on partitions encodes categories as one trained on the whole file would.
These functions run inside Dask workers: plain data in, plain data out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .columns import CategoricalColumn, ColumnBuilder, NumericColumn
from .datasets import BinaryTarget, Dataset, DatasetError, _target_labels, binary_target, is_missing_token, parse_float
from .features import Feature, FeatureSchema, category_text, dataset_matrix, internal_names

# Distinct texts a numeric partition keeps of a column, in case another partition makes it categorical.
MAX_NUMBER_TEXTS = 65_536
LABEL = "__label__"
PART = "__part__"
TRAIN, VALIDATION, TEST = 0, 1, 2


class _NumberText:
    """The text of a typed numeric column, made only if a categorical feature asks for its cells."""

    def __init__(self, values: np.ndarray):
        self.values = values

    def cells(self) -> list[str]:
        return ["" if np.isnan(v) else category_text(float(v)) for v in self.values.tolist()]


def frame_dataset(frame: pd.DataFrame, target: str | None = None) -> Dataset:
    """A partition as a Dataset; CSV partitions arrive as text (``dtype=str``), Parquet ones typed."""
    names = [str(name).strip() for name in frame.columns]
    data = {}
    for name, column in zip(names, frame.columns):
        data[name] = _column(frame[column])
    return Dataset(columns=names, data=data, target=target)


def _column(series: pd.Series):
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isfinite(values[~np.isnan(values)]).all():
            return NumericColumn(values, _NumberText(values))
    cells = ["" if _missing(v) else (v if isinstance(v, str) else category_text(v)) for v in series.tolist()]
    builder = ColumnBuilder(None)
    builder.add(cells)
    return builder.column()


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def target_labels(dataset: Dataset, target: str) -> tuple[dict, int | None]:
    """A partition's target: ``{label: rows}`` (numbers keyed by value, as one column would merge
    '1' and '1.0') and the first row (from 1) where it is missing, or None."""
    if target not in dataset.columns:
        raise DatasetError(f"target column '{target}' not found; columns are: {', '.join(dataset.columns)}")
    names, codes, _ = _target_labels(dataset.data[target])
    counts = np.bincount(codes[codes >= 0], minlength=len(names))
    column = dataset.data[target]
    numeric = isinstance(column, NumericColumn)
    keys = [(float(name) if numeric else name) for name in names]
    missing = np.flatnonzero(codes < 0)
    return {key: int(n) for key, n in zip(keys, counts)}, (int(missing[0]) + 1 if missing.size else None)


def decide_classes(counts: dict, target: str, positive: str | None) -> BinaryTarget:
    """The two classes of the whole target, by the upload's rules (:func:`binary_target`), from the
    distinct labels the partitions found. Messages name no row: there is no single file to count in."""
    names = sorted(counts, key=lambda k: (isinstance(k, str), k))
    numeric = all(not isinstance(k, str) for k in names)
    cells = [category_text(k) if numeric else k for k in names]
    probe = frame_dataset(pd.DataFrame({target: pd.Series(cells, dtype=object)}), target)
    try:
        return binary_target(probe, target, positive)
    except DatasetError as exc:
        raise DatasetError(re.sub(r"(unknown label '[^']*') in row \d+", r"\1", str(exc))) from None


def partition_labels(dataset: Dataset, target: str, positive: str) -> np.ndarray:
    """1 where the row's label is the positive class, else 0 (every row has one of the two labels)."""
    column = dataset.data[target]
    if isinstance(column, NumericColumn):
        return (column.values == parse_float(positive)).astype(np.int8)
    if positive not in column.categories:
        return np.zeros(len(column), dtype=np.int8)
    return (column.codes == column.categories.index(positive)).astype(np.int8)


@dataclass
class Summary:
    """What one partition tells the coordinator to build the global schema."""

    rows: int
    columns: list[str]
    numeric: dict[str, bool] = field(default_factory=dict)
    texts: dict[str, list[str] | None] = field(default_factory=dict)
    low: dict[str, float | None] = field(default_factory=dict)
    high: dict[str, float | None] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    missing_label: int | None = None


def summarize(dataset: Dataset, target: str) -> Summary:
    out = Summary(rows=dataset.row_count, columns=list(dataset.columns))
    out.labels, out.missing_label = target_labels(dataset, target)
    for name in dataset.columns:
        if name == target:
            continue
        column = dataset.data[name]
        out.missing[name] = int(column.missing.sum())
        if isinstance(column, CategoricalColumn):
            out.numeric[name] = False
            out.texts[name] = list(column.categories)
            continue
        out.numeric[name] = True
        present = column.values[~np.isnan(column.values)]
        out.low[name] = float(present.min()) if present.size else None
        out.high[name] = float(present.max()) if present.size else None
        distinct = np.unique(present)
        out.texts[name] = None if distinct.size > MAX_NUMBER_TEXTS else _texts(column, present.size)
    return out


def _texts(column: NumericColumn, present: int) -> list[str]:
    if not present:
        return []
    return sorted({c for c in column.text.cells() if not is_missing_token(c)})


def merge_summaries(summaries: list[Summary], target: str,
                    positive: str | None = None) -> tuple[FeatureSchema, int, BinaryTarget, dict]:
    """The schema :func:`infer_schema` would give for the partitions read as one file, the two
    classes, and each class's row count. A missing label is named by its row in the whole data set."""
    offset = 0
    for summary in summaries:
        if summary.missing_label is not None:
            raise DatasetError(f"target '{target}' is missing in row {summary.missing_label + offset}")
        offset += summary.rows
    counts: dict = {}
    for summary in summaries:
        for key, n in summary.labels.items():
            counts[key] = counts.get(key, 0) + n
    classes = decide_classes(counts, target, positive)
    by_class = {name: 0 for name in (classes.negative, classes.positive)}
    for key, n in counts.items():
        name = classes.positive if _same(key, classes.positive) else classes.negative
        by_class[name] += n
    first = summaries[0].columns
    for summary in summaries[1:]:
        if summary.columns != first:
            raise DatasetError("the files of the data set do not have the same columns")
    rows = sum(s.rows for s in summaries)
    features = []
    for name in first:
        if name == target:
            continue
        missing = sum(s.missing[name] for s in summaries)
        missing_rate = round(missing / rows, 6) if rows else 0.0
        if all(s.numeric[name] for s in summaries):
            lows = [s.low[name] for s in summaries if s.low[name] is not None]
            highs = [s.high[name] for s in summaries if s.high[name] is not None]
            features.append(Feature(name, "numeric", min=min(lows) if lows else None, max=max(highs) if highs else None,
                                    missing_rate=missing_rate))
            continue
        if any(s.texts[name] is None for s in summaries):
            raise DatasetError(f"column '{name}' mixes text with more than {MAX_NUMBER_TEXTS} distinct numbers; "
                               "clean the text cells or split the column")
        categories = sorted(set().union(*(s.texts[name] for s in summaries)))
        features.append(Feature(name, "categorical", categories=categories, missing_rate=missing_rate))
    if not features:
        raise DatasetError("the dataset has no feature columns besides the target")
    return FeatureSchema(features=features, target=target), rows, classes, by_class


def _same(key, label: str) -> bool:
    return key == label if isinstance(key, str) else key == parse_float(label)


def hashed_parts(rows: int, seed: int, partition: int, test_size: float, validation_share: float) -> np.ndarray:
    """Each row's part drawn from (seed, partition): no global index needed, so memory stays flat."""
    draw = np.random.default_rng([seed, partition]).random(rows)
    parts = np.full(rows, TRAIN, dtype=np.int8)
    parts[draw < test_size + (1 - test_size) * validation_share] = VALIDATION
    parts[draw < test_size] = TEST
    return parts


def encode_partition(dataset: Dataset, schema_dict: dict, target: str, positive: str,
                     parts: np.ndarray) -> pd.DataFrame:
    """The model input of a partition (``f0..fN`` float32, exactly as local training builds it),
    its label and its part (train, validation, test)."""
    schema = FeatureSchema.from_dict(schema_dict)
    values = dataset_matrix(schema, dataset)
    frame = pd.DataFrame(values, columns=internal_names(schema))
    frame[LABEL] = partition_labels(dataset, target, positive).astype(np.float32)
    frame[PART] = parts.astype(np.int8)
    return frame


def empty_encoded(schema: FeatureSchema) -> pd.DataFrame:
    """The column layout of :func:`encode_partition`, for Dask's ``meta``."""
    frame = pd.DataFrame({name: pd.Series(dtype=np.float32) for name in internal_names(schema)})
    frame[LABEL] = pd.Series(dtype=np.float32)
    frame[PART] = pd.Series(dtype=np.int8)
    return frame
