"""Customer CSV uploads turned into a validated, typed table.

Every rejection is a :class:`DatasetError` whose message is written for the
person who uploaded the file, so the API can return it verbatim as a 400 body.
Row numbers in messages count data rows from 1 (the header is not a row,
blank lines are ignored), the way a user counts records.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np

ColumnType = Literal["numeric", "categorical"]

MIN_ROWS = 20
DELIMITERS = (",", ";", "\t")
MISSING_TOKENS = frozenset({"", "na", "null"})
TARGET_CANDIDATES = ("creditability", "target", "label", "outcome", "class", "y", "default")

GOOD_LABELS = frozenset({"good", "1", "1.0", "true", "yes"})
BAD_LABELS = frozenset({"bad", "0", "0.0", "false", "no"})

SAMPLES = {"german-credit": ("germancredit.csv", "creditability")}


class DatasetError(ValueError):
    """A dataset the customer must fix; the message is safe to show them."""


@dataclass
class Dataset:
    columns: list[str]
    rows: list[dict[str, str | None]]
    column_types: dict[str, ColumnType]
    target: str | None


def is_missing_token(text: str) -> bool:
    """Shared by upload parsing and scoring so both agree on what "missing" means."""
    return text.strip().lower() in MISSING_TOKENS


def parse_float(text: str) -> float | None:
    """Finite floats only: 'nan'/'inf' in a CSV are not measurements."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_csv(raw: bytes, target: str | None = None) -> Dataset:
    """Validate an uploaded CSV; the target may stay undecided until training."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError("file is not valid UTF-8 text") from None
    if not text.strip():
        raise DatasetError("file is empty")

    try:
        records = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text)) if r]
    except csv.Error as exc:
        raise DatasetError(f"file is not valid CSV: {exc}") from None
    header = [name.strip() for name in records[0]]
    _check_header(header)

    rows: list[dict[str, str | None]] = []
    for number, record in enumerate(records[1:], start=1):
        if len(record) != len(header):
            raise DatasetError(f"row {number} has {len(record)} fields, expected {len(header)}")
        rows.append({name: _clean(value) for name, value in zip(header, record)})
    if len(rows) < MIN_ROWS:
        raise DatasetError(f"file has {len(rows)} data rows; at least {MIN_ROWS} are required")

    column_types = {name: _infer_type(row[name] for row in rows) for name in header}
    return Dataset(columns=header, rows=rows, column_types=column_types, target=_resolve_target(header, target))


def labels_from(dataset: Dataset, target: str) -> np.ndarray:
    """Map the target column to 1 = good / 0 = bad, the direction every score uses."""
    if target not in dataset.columns:
        raise DatasetError(f"target column '{target}' not found; columns are: {', '.join(dataset.columns)}")
    labels = np.empty(len(dataset.rows), dtype=np.int64)
    for i, row in enumerate(dataset.rows):
        value = row[target]
        if value is None:
            raise DatasetError(f"target '{target}' is missing in row {i + 1}")
        label = _label(value)
        if label is None:
            raise DatasetError(
                f"target '{target}' has an unknown label '{value}' in row {i + 1}; "
                "expected good/bad, 1/0, true/false or yes/no"
            )
        labels[i] = label
    present = set(labels.tolist())
    if len(present) < 2:
        only = "good" if present == {1} else "bad"
        raise DatasetError(f"target '{target}' has only one class: {only}")
    return labels


def load_sample(name: str = "german-credit") -> Dataset:
    """Bundled data lets a new customer try the service before uploading anything."""
    if name not in SAMPLES:
        raise DatasetError(f"unknown sample '{name}'; available: {', '.join(sorted(SAMPLES))}")
    filename, target = SAMPLES[name]
    raw = resources.files("maiascore.modeling").joinpath("data", filename).read_bytes()
    return parse_csv(raw, target=target)


def _sniff_delimiter(text: str) -> str:
    """Pick the delimiter that splits the first lines most consistently into the most fields."""
    head = "\n".join(text.splitlines()[:20])
    best, best_key = ",", (False, 1)
    for delimiter in DELIMITERS:
        try:
            widths = [len(r) for r in csv.reader(io.StringIO(head, newline=""), delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not widths:
            continue
        key = (len(set(widths)) == 1 and widths[0] > 1, widths[0])
        if key > best_key:
            best, best_key = delimiter, key
    return best


def _check_header(header: list[str]) -> None:
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            raise DatasetError(f"column {position} of the header has an empty name")
        if name in seen:
            raise DatasetError(f"duplicate column name in header: '{name}'")
        seen.add(name)


def _clean(value: str) -> str | None:
    value = value.strip()
    return None if value.lower() in MISSING_TOKENS else value


def _infer_type(values) -> ColumnType:
    """All-missing columns count as numeric: NaN is all the model will ever see there."""
    for value in values:
        if value is not None and parse_float(value) is None:
            return "categorical"
    return "numeric"


def _resolve_target(header: list[str], target: str | None) -> str | None:
    if target is not None:
        if target not in header:
            raise DatasetError(f"target column '{target}' not found; columns are: {', '.join(header)}")
        return target
    by_lower = {name.lower(): name for name in header}
    return next((by_lower[c] for c in TARGET_CANDIDATES if c in by_lower), None)


def _label(value: str) -> int | None:
    text = value.strip().lower()
    if text in GOOD_LABELS:
        return 1
    if text in BAD_LABELS:
        return 0
    number = parse_float(text)
    if number == 1.0:
        return 1
    if number == 0.0:
        return 0
    return None
