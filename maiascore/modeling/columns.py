"""A dataset's columns as numpy arrays instead of one Python object per cell.

A million rows of twenty columns as Python strings cost well over a gigabyte and
a per-cell Python loop at every step; as arrays they cost a few hundred megabytes
and type inference, the schema, the labels and the model matrix become a handful
of numpy operations per column.

Cells arrive chunk by chunk (some ten thousand rows at a time), so the Python
strings of only one chunk are alive at once. A column is numeric until a chunk
holds a present cell that is not a finite number; it is then re-encoded as
categorical from the text kept so far.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

ColumnType = Literal["numeric", "categorical"]

MISSING_TOKENS = frozenset({"", "na", "null"})
# Every spelling whose lower() is a missing token: a set lookup per cell instead of lower() per cell.
MISSING_SPELLINGS = frozenset(
    "".join(letters)
    for token in MISSING_TOKENS
    for letters in itertools.product(*[(c, c.upper()) for c in token])
)
_NAN_FOR_MISSING = dict.fromkeys(MISSING_SPELLINGS, "nan")
# What str.strip() removes among ASCII characters; any non-ASCII text is stripped cell by cell.
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
# Joins the cells of a chunk into one string; the first one absent from the file is used.
_SEPARATORS = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f"


def separator_absent_from(text: str) -> str | None:
    return next((c for c in _SEPARATORS if c not in text), None)


class CellText:
    """A column's cells as written (stripped), kept one joined string per chunk.

    ``sep`` is a character no cell contains, so splitting gives the cells back;
    without one (a file holding every candidate) the chunks are kept as lists.
    """

    def __init__(self, sep: str | None):
        self.sep = sep
        self.parts: list[str | list[str]] = []

    def add(self, cells: list[str], joined: str | None = None) -> None:
        if not cells:
            return
        if self.sep is None:
            self.parts.append(list(cells))
        else:
            self.parts.append(self.sep.join(cells) if joined is None else joined)

    def chunks(self):
        for part in self.parts:
            yield part if isinstance(part, list) else part.split(self.sep)

    def cells(self) -> list[str]:
        out: list[str] = []
        for chunk in self.chunks():
            out.extend(chunk)
        return out


@dataclass(eq=False)
class NumericColumn:
    """Finite floats, NaN where the cell was missing; ``text`` gives ``Dataset.rows`` the cells verbatim."""

    values: np.ndarray
    text: CellText
    type: ClassVar[ColumnType] = "numeric"

    def __len__(self) -> int:
        return len(self.values)

    @property
    def missing(self) -> np.ndarray:
        return np.isnan(self.values)

    def cells(self) -> list[str | None]:
        missing = self.missing
        if not missing.any():
            return self.text.cells()
        return [None if m else c for c, m in zip(self.text.cells(), missing.tolist())]


@dataclass(eq=False)
class CategoricalColumn:
    """Sorted distinct present values and, per row, the index of its value (-1 where missing)."""

    categories: list[str]
    codes: np.ndarray
    type: ClassVar[ColumnType] = "categorical"

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def missing(self) -> np.ndarray:
        return self.codes < 0

    def cells(self) -> list[str | None]:
        lookup = np.array([*self.categories, None], dtype=object)  # code -1 picks the trailing None
        return lookup[self.codes].tolist()


Column = NumericColumn | CategoricalColumn


def as_numbers(cells: list[str]) -> np.ndarray | None:
    """Floats with NaN for missing cells, or None when a present cell is not a finite number.

    ``float`` parses the whole list in C; only a column that refuses it is looked at
    again, to tell missing tokens from text.
    """
    n = len(cells)
    try:
        numbers = np.fromiter(map(float, cells), np.float64, n)
    except ValueError:
        missing = np.fromiter(map(MISSING_SPELLINGS.__contains__, cells), bool, n)
        if not missing.any():
            return None
        try:
            numbers = np.fromiter(map(float, map(_NAN_FOR_MISSING.get, cells, cells)), np.float64, n)
        except ValueError:
            return None
        return numbers if (np.isfinite(numbers) | missing).all() else None
    return numbers if np.isfinite(numbers).all() else None


def stripped(cells: list[str], sep: str | None) -> tuple[list[str], str | None]:
    """The cells without surrounding whitespace, and joined by ``sep``; one scan decides if any needs it."""
    if sep is None:
        return list(map(str.strip, cells)), None
    joined = sep.join(cells)
    if joined.isascii() and not any(c in joined for c in _ASCII_WHITESPACE):
        return cells, joined
    cells = list(map(str.strip, cells))
    return cells, sep.join(cells)


class CategoryEncoder:
    """Codes in order of first appearance while reading; sorted into the final codes at the end."""

    def __init__(self) -> None:
        self.code_of: dict[str, int] = {}  # cell as read -> provisional code, -1 = missing
        self.code_of_value: dict[str, int] = {}  # stripped value -> provisional code
        self.values: list[str] = []
        self.codes: list[np.ndarray] = []

    def add(self, cells: list[str]) -> None:
        try:
            codes = np.fromiter(map(self.code_of.__getitem__, cells), np.int32, len(cells))
        except KeyError:  # values not seen in earlier chunks
            self._learn(cells)
            codes = np.fromiter(map(self.code_of.__getitem__, cells), np.int32, len(cells))
        self.codes.append(codes)

    def _learn(self, cells: list[str]) -> None:
        code_of = self.code_of
        for cell in set(cells).difference(code_of):
            value = cell.strip()
            if value.lower() in MISSING_TOKENS:
                code_of[cell] = -1
                continue
            code = self.code_of_value.get(value)
            if code is None:
                code = self.code_of_value[value] = len(self.values)
                self.values.append(value)
            code_of[cell] = code

    def column(self) -> CategoricalColumn:
        order = sorted(range(len(self.values)), key=self.values.__getitem__)
        final = np.empty(len(order) + 1, dtype=np.int32)
        final[order] = np.arange(len(order), dtype=np.int32)
        final[-1] = -1
        codes = np.concatenate(self.codes) if self.codes else np.empty(0, dtype=np.int32)
        return CategoricalColumn([self.values[i] for i in order], final[codes])


class ColumnBuilder:
    """Takes a column's cells chunk by chunk and infers its type the way the whole column would.

    A column whose every cell is missing counts as numeric: NaN is all the model will ever see there.
    """

    def __init__(self, sep: str | None):
        self.text: CellText | None = CellText(sep)
        self.numbers: list[np.ndarray] = []
        self.encoder: CategoryEncoder | None = None

    def add(self, cells: list[str]) -> None:
        if self.encoder is not None:
            self.encoder.add(cells)
            return
        cells, joined = stripped(cells, self.text.sep)
        numbers = as_numbers(cells)
        if numbers is None:
            self.encoder = CategoryEncoder()
            for earlier in self.text.chunks():
                self.encoder.add(earlier)
            self.encoder.add(cells)
            self.text, self.numbers = None, []
            return
        self.numbers.append(numbers)
        self.text.add(cells, joined)

    def column(self) -> Column:
        if self.encoder is not None:
            return self.encoder.column()
        values = np.concatenate(self.numbers) if self.numbers else np.empty(0, dtype=np.float64)
        return NumericColumn(values, self.text)


def column_from_values(values: list, column_type: ColumnType | None = None) -> Column:
    """A column from cell values (str, or None for missing), of the given type or the inferred one."""
    cells = ["" if v is None else str(v) for v in values]
    sep = separator_absent_from("".join(cells))
    if column_type == "categorical":
        encoder = CategoryEncoder()
        encoder.add(cells)
        return encoder.column()
    builder = ColumnBuilder(sep)
    builder.add(cells)
    column = builder.column()
    if column_type == "numeric" and isinstance(column, CategoricalColumn):
        text = CellText(sep)
        text.add(cells)
        numbers = np.array([_finite_or_nan(c) for c in cells], dtype=np.float64)
        return NumericColumn(numbers, text)
    return column


def _finite_or_nan(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return float("nan")
    return value if np.isfinite(value) else float("nan")


class SparseCellText(CellText):
    """The cells of a column known only where present (``rows``, ``texts``); the rest read as ""."""

    def __init__(self, length: int, rows: np.ndarray, texts: list[str]):
        super().__init__(None)
        self.length, self.rows, self.texts = length, rows, texts

    def add(self, cells: list[str], joined: str | None = None) -> None:
        raise TypeError("a sparse column's cells are fixed")

    def chunks(self):
        cells = [""] * self.length
        for row, text in zip(self.rows.tolist(), self.texts):
            cells[row] = text
        yield cells


def sparse_column(length: int, rows: np.ndarray, texts: list[str]) -> Column:
    """A column of ``length`` rows from its present cells only: ``texts[k]`` is row ``rows[k]``'s cell
    (stripped, never a missing token), so building it costs the present cells, not rows x columns
    of Python objects. Typed as :func:`column_from_values` would type the full column."""
    numbers = as_numbers(texts) if texts else np.empty(0, dtype=np.float64)
    if numbers is not None:
        values = np.full(length, np.nan, dtype=np.float64)
        values[rows] = numbers
        return NumericColumn(values, SparseCellText(length, rows, texts))
    encoder = CategoryEncoder()
    encoder.add(texts)
    present = encoder.column()
    codes = np.full(length, -1, dtype=np.int32)
    codes[rows] = present.codes
    return CategoricalColumn(present.categories, codes)
