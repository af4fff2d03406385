"""Customer CSV uploads turned into a validated, typed table.

Every rejection is a :class:`DatasetError` whose message is written for the
person who uploaded the file, so the API can return it verbatim as a 400 body.
Row numbers in messages count data rows from 1 (the header is not a row,
blank lines are ignored), the way a user counts records.

The table is read a chunk of rows at a time straight into numpy columns
(:mod:`.columns`). A file without quotes is split with ``str.split``, which
costs far less than ``csv.reader``; anything irregular in it (a
ragged row, a bad header, a field over the csv module's size limit) sends the
whole file through ``csv.reader`` instead, so errors read exactly as that
module reports them.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from functools import cached_property
from importlib import resources
from typing import NamedTuple

import numpy as np

from .columns import (
    MISSING_TOKENS,
    CategoricalColumn,
    Column,
    ColumnBuilder,
    ColumnType,
    column_from_values,
    separator_absent_from,
)

MIN_ROWS = 20
DELIMITERS = (",", ";", "\t")
TARGET_CANDIDATES = ("creditability", "target", "label", "outcome", "class", "y", "default")

GOOD_LABELS = frozenset({"good", "1", "1.0", "true", "yes"})
BAD_LABELS = frozenset({"bad", "0", "0.0", "false", "no"})

SAMPLES = {"german-credit": ("germancredit.csv", "creditability")}

CHUNK_CHARS = 1 << 21
CHUNK_ROWS = 20_000
SNIFF_LINES = 20


class DatasetError(ValueError):
    """A dataset the customer must fix; the message is safe to show them."""


class Dataset:
    """A typed table held column by column (``data``: column name -> numpy-backed column).

    ``rows`` (one dict per row, missing cells as None) is built on first use only:
    training reads the columns, and a million dicts would cost more than the data.
    A dataset can also be made from such rows (tests do; the score-report trainings build columns).
    """

    def __init__(
        self,
        columns: list[str],
        rows: list[dict[str, str | None]] | None = None,
        column_types: dict[str, ColumnType] | None = None,
        target: str | None = None,
        *,
        data: dict[str, Column] | None = None,
    ):
        self.columns = list(columns)
        self.target = target
        if data is None:
            rows = [] if rows is None else rows
            types = column_types or {}
            data = {name: column_from_values([row.get(name) for row in rows], types.get(name)) for name in self.columns}
            self.__dict__["rows"] = rows
        self.data = data
        self.column_types: dict[str, ColumnType] = {name: data[name].type for name in self.columns}
        self.row_count = len(data[self.columns[0]]) if self.columns else len(rows or [])

    @cached_property
    def rows(self) -> list[dict[str, str | None]]:
        cells = [self.data[name].cells() for name in self.columns]
        return [dict(zip(self.columns, values)) for values in zip(*cells)]

    def __repr__(self) -> str:
        return f"Dataset({self.row_count} rows, columns={self.columns!r}, target={self.target!r})"


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
    if not text or text.isspace():
        raise DatasetError("file is empty")

    delimiter = sniff_delimiter(text)
    sep = separator_absent_from(text)
    table = None
    if '"' not in text:
        try:
            table = _read_unquoted(text, delimiter, sep)
        except _Irregular:
            table = None
    if table is None:
        table = _read_with_csv_module(text, delimiter, sep)
    del text  # from here on the columns hold all that is needed
    header, builders, row_count = table
    if row_count < MIN_ROWS:
        raise DatasetError(f"file has {row_count} data rows; at least {MIN_ROWS} are required")
    data = {name: builder.column() for name, builder in zip(header, builders)}
    return Dataset(columns=header, data=data, target=_resolve_target(header, target))


class BinaryTarget(NamedTuple):
    """A target column as 1 (``positive``, the class whose probability scores report) and 0."""

    labels: np.ndarray
    positive: str
    negative: str


def labels_from(dataset: Dataset, target: str, positive: str | None = None) -> np.ndarray:
    """The target column as 1 = positive / 0 = negative, the direction every score uses."""
    return binary_target(dataset, target, positive).labels


def binary_target(dataset: Dataset, target: str, positive: str | None = None) -> BinaryTarget:
    """Any target with exactly two labels; ``positive`` names the one scores are about.

    Without ``positive`` the known pairs decide (good/bad, 1/0, true/false, yes/no: the first
    is positive); two other labels need it named.
    """
    if target not in dataset.columns:
        raise DatasetError(f"target column '{target}' not found; columns are: {', '.join(dataset.columns)}")
    names, codes, cells = _target_labels(dataset.data[target])
    if len(names) > 2:
        raise DatasetError(_too_many_labels(target, names, codes, cells))
    missing = np.flatnonzero(codes < 0)
    if missing.size:
        raise DatasetError(f"target '{target}' is missing in row {int(missing[0]) + 1}")
    if len(names) < 2:
        only = {None: names[0] if names else "none", 1: "good", 0: "bad"}[_label(names[0]) if names else None]
        raise DatasetError(f"target '{target}' has only one class: {only}")
    if positive is not None:
        chosen = _matching_label(names, positive)
        if chosen is None:
            raise DatasetError(f"positiveLabel '{positive}' is not a label of target '{target}'; its labels are "
                               f"'{names[0]}' and '{names[1]}'")
    else:
        known = [_label(name) for name in names]
        if sorted(k for k in known if k is not None) != [0, 1]:
            raise DatasetError(_unknown_pair(target, names, known, codes))
        chosen = known.index(1)
    labels = (codes == chosen).astype(np.int64)
    return BinaryTarget(labels, names[chosen], names[1 - chosen])


def _target_labels(column: Column) -> tuple[list[str], np.ndarray, list[str | None] | None]:
    """Distinct present labels as written, each row's index among them (-1 where missing), and
    the cells as written when they differ from the labels (numbers: '1.0' and '1' are one label)."""
    if isinstance(column, CategoricalColumn):
        return list(column.categories), column.codes.astype(np.int64), None
    present = ~np.isnan(column.values)
    distinct, first = np.unique(column.values[present], return_index=True)
    cells = column.cells()
    rows = np.flatnonzero(present)
    names = [cells[int(rows[i])] for i in first]
    codes = np.full(len(column), -1, dtype=np.int64)
    codes[present] = np.searchsorted(distinct, column.values[present])
    return names, codes, cells


def _matching_label(names: list[str], wanted: str) -> int | None:
    """Exactly as written first, then ignoring case and surrounding blanks, then as a number."""
    text = str(wanted).strip()
    for same in (lambda n: n == text, lambda n: n.lower() == text.lower(),
                 lambda n: parse_float(n) is not None and parse_float(n) == parse_float(text)):
        hits = [i for i, name in enumerate(names) if same(name)]
        if len(hits) == 1:
            return hits[0]
    return None


def _quoted(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(f"'{name}'" for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _first_row_of(codes: np.ndarray, wanted: set[int]) -> int:
    return int(np.flatnonzero(np.isin(codes, list(wanted)))[0])


def _too_many_labels(target: str, names: list[str], codes: np.ndarray, cells: list[str | None] | None) -> str:
    message = f"target '{target}' has {len(names)} labels ({_quoted(names)}); a target needs exactly two"
    known = [_label(name) for name in names]
    if {0, 1} <= set(known):
        row = _first_row_of(codes, {i for i, k in enumerate(known) if k is None})
        value = names[codes[row]] if cells is None else cells[row]
        message += f": unknown label '{value}' in row {row + 1}; expected good/bad, 1/0, true/false or yes/no"
    return message


def _unknown_pair(target: str, names: list[str], known: list[int | None], codes: np.ndarray) -> str:
    message = (f"target '{target}' has the labels '{names[0]}' and '{names[1]}', not a known pair (good/bad, 1/0, "
               "true/false, yes/no): name the positive class, the one whose probability scoreProbability is, "
               "in positiveLabel")
    unknown = [i for i, k in enumerate(known) if k is None]
    if len(unknown) == 1:
        row = _first_row_of(codes, set(unknown))
        message = f"unknown label '{names[unknown[0]]}' in row {row + 1}; " + message
    return message


def load_sample(name: str = "german-credit") -> Dataset:
    """Bundled data lets a new customer try the service before uploading anything."""
    if name not in SAMPLES:
        raise DatasetError(f"unknown sample '{name}'; available: {', '.join(sorted(SAMPLES))}")
    filename, target = SAMPLES[name]
    raw = resources.files("maiascore.modeling").joinpath("data", filename).read_bytes()
    return parse_csv(raw, target=target)


class _Irregular(Exception):
    """The unquoted fast path met something the csv module must judge."""


_Table = tuple[list[str], list[ColumnBuilder], int]


def _read_unquoted(text: str, delimiter: str, sep: str | None) -> _Table:
    """Split text without any quote character, where a field cannot span lines or hold the delimiter."""
    limit = csv.field_size_limit()
    header: list[str] | None = None
    builders: list[ColumnBuilder] = []
    row_count = 0
    for lines in _line_chunks(text):
        if max(map(len, lines)) > limit:
            raise _Irregular
        if header is None:
            header = [name.strip() for name in lines[0].split(delimiter)]
            try:
                _check_header(header)
            except DatasetError:
                raise _Irregular from None
            builders = [ColumnBuilder(sep) for _ in header]
            lines = lines[1:]
        width = len(header)
        counts = list(map(str.count, lines, itertools.repeat(delimiter)))
        if counts.count(width - 1) != len(counts):
            raise _Irregular
        if lines:
            _add_cells(builders, delimiter.join(lines).split(delimiter))
            row_count += len(lines)
    if header is None:
        raise _Irregular
    return header, builders, row_count


def _line_chunks(text: str):
    """Non-blank lines, a few megabytes at a time, cut at line ends; CR and CRLF end lines as csv does."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + CHUNK_CHARS)
        end = len(text) if end < 0 else end + 1
        chunk = text[start:end]
        start = end
        if "\r" in chunk:
            chunk = chunk.replace("\r\n", "\n").replace("\r", "\n")
        lines = chunk.split("\n")
        if "" in lines:
            lines = list(filter(None, lines))
        if lines:
            yield lines


def _read_with_csv_module(text: str, delimiter: str, sep: str | None) -> _Table:
    """Any CSV; a header or row error waits until the whole file has been read, so a csv error comes first."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    builders: list[ColumnBuilder] = []
    row_count = 0
    try:
        while batch := list(itertools.islice(reader, CHUNK_ROWS)):
            records = list(filter(None, batch))
            if not records:
                continue
            if header is None:
                header = [name.strip() for name in records[0]]
                try:
                    _check_header(header)
                except DatasetError:
                    _drain(reader)
                    raise
                builders = [ColumnBuilder(sep) for _ in header]
                records = records[1:]
            width = len(header)
            lengths = list(map(len, records))
            if lengths.count(width) != len(lengths):
                number, fields = next((i, n) for i, n in enumerate(lengths, start=row_count + 1) if n != width)
                _drain(reader)
                raise DatasetError(f"row {number} has {fields} fields, expected {width}")
            if records:
                _add_cells(builders, list(itertools.chain.from_iterable(records)))
                row_count += len(records)
    except csv.Error as exc:
        raise DatasetError(f"file is not valid CSV: {exc}") from None
    if header is None:
        raise DatasetError("file is empty")
    return header, builders, row_count


def _drain(reader) -> None:
    for _ in reader:
        pass


def _add_cells(builders: list[ColumnBuilder], cells: list[str]) -> None:
    """``cells`` holds whole rows one after the other; column j is every width-th cell from j."""
    width = len(builders)
    for j, builder in enumerate(builders):
        builder.add(cells[j::width])


def _head(text: str, count: int) -> str:
    """The first ``count`` lines as ``str.splitlines`` cuts them, without splitting the whole file."""
    size = 1 << 16
    while True:
        lines = text[:size].splitlines()
        if len(lines) > count or size >= len(text):
            return "\n".join(lines[:count])
        size *= 4


def sniff_delimiter(text: str) -> str:
    """Pick the delimiter that splits the first lines most consistently into the most fields."""
    head = _head(text, SNIFF_LINES)
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
