"""The contract between a trained model and the records it scores.

Training and scoring both go through :func:`build_matrix` and :func:`to_dmatrix`,
so a categorical value gets the same code on both sides: its index in the
schema's sorted training categories, passed to XGBoost as a native categorical
feature. Values the model cannot use become NaN (XGBoost's missing value) and
are reported per row instead of failing the whole batch.

Inside XGBoost the features are named ``f0..fN`` because customer column names
may contain characters XGBoost rejects (``[``, ``]``, ``<``); the schema's order
maps them back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost as xgb

from .columns import CategoricalColumn, Column, ColumnType, NumericColumn
from .datasets import Dataset, DatasetError, is_missing_token, parse_float

SCHEMA_VERSION = 1


@dataclass
class Feature:
    name: str
    type: ColumnType
    categories: list[str] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    missing_rate: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type == "categorical":
            out["categories"] = list(self.categories)
        else:
            out["min"] = self.min
            out["max"] = self.max
        out["missing_rate"] = self.missing_rate
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Feature:
        if data.get("type") not in ("numeric", "categorical"):
            raise ValueError(f"feature '{data.get('name')}' has unknown type {data.get('type')!r}")
        return cls(
            name=str(data["name"]),
            type=data["type"],
            categories=[str(c) for c in data.get("categories") or []],
            min=_optional_float(data.get("min")),
            max=_optional_float(data.get("max")),
            missing_rate=float(data.get("missing_rate", 0.0)),
        )


@dataclass
class FeatureSchema:
    """Ordered features plus each feature's share of the model's total gain.

    ``gain_share`` is empty until a model has been trained on the schema; the
    scoring confidence is weighted by it.
    """

    features: list[Feature]
    target: str | None = None
    gain_share: dict[str, float] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def feature_types(self) -> list[str]:
        return ["c" if f.type == "categorical" else "q" for f in self.features]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "target": self.target,
            "features": [f.to_dict() for f in self.features],
            "gain_share": dict(self.gain_share),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        if data.get("version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema version {data.get('version')!r}")
        return cls(
            features=[Feature.from_dict(f) for f in data["features"]],
            target=data.get("target"),
            gain_share={str(k): float(v) for k, v in (data.get("gain_share") or {}).items()},
        )


@dataclass
class RowDiagnostics:
    missing: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)
    out_of_range: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


@dataclass
class FeatureMatrix:
    """Model input plus why cells are NaN; the masks are (rows, features) booleans."""

    values: np.ndarray
    diagnostics: list[RowDiagnostics]
    missing: np.ndarray
    unseen: np.ndarray
    invalid: np.ndarray
    out_of_range: np.ndarray


def infer_schema(dataset: Dataset, target: str | None) -> FeatureSchema:
    """Describe every non-target column as the model will see it."""
    features = []
    n = dataset.row_count
    for name in dataset.columns:
        if name == target:
            continue
        column = dataset.data[name]
        missing_rate = round(int(column.missing.sum()) / n, 6) if n else 0.0
        if isinstance(column, CategoricalColumn):
            features.append(Feature(name, "categorical", categories=list(column.categories), missing_rate=missing_rate))
        else:
            present = column.values[~np.isnan(column.values)]
            features.append(
                Feature(
                    name,
                    "numeric",
                    min=_first_extreme(present, np.min) if present.size else None,
                    max=_first_extreme(present, np.max) if present.size else None,
                    missing_rate=missing_rate,
                )
            )
    if not features:
        raise DatasetError("the dataset has no feature columns besides the target")
    return FeatureSchema(features=features, target=target)


def dataset_matrix(schema: FeatureSchema, dataset: Dataset, rows: np.ndarray | None = None) -> np.ndarray:
    """Training's model input for ``rows`` (default all), read straight from the dataset's columns.

    The same codes and NaNs as :func:`build_matrix` gives for the dataset's rows, without
    per-row diagnostics: training has no one to warn.
    """
    n = dataset.row_count if rows is None else len(rows)
    values = np.empty((n, len(schema.features)), dtype=np.float32)
    for j, feature in enumerate(schema.features):
        column = dataset.data.get(feature.name)
        values[:, j] = np.nan if column is None else _feature_values(feature, column, rows)
    return values


def empty_matrix(n: int, width: int) -> tuple[np.ndarray, ...]:
    """A matrix's values (all NaN) and its missing, unseen, invalid and out-of-range masks (all False),
    for the record and the table encoders to fill alike."""
    return (np.full((n, width), np.nan, dtype=np.float32),
            *(np.zeros((n, width), dtype=bool) for _ in range(4)))


def outside_range(feature: Feature, numbers: np.ndarray) -> np.ndarray:
    """Which numbers lie outside the range the feature saw in training (NaN never does)."""
    outside = np.zeros(len(numbers), dtype=bool)
    with np.errstate(invalid="ignore"):
        if feature.min is not None:
            outside |= numbers < feature.min
        if feature.max is not None:
            outside |= numbers > feature.max
    return outside


def build_matrix(schema: FeatureSchema, records: list[dict]) -> FeatureMatrix:
    """Encode records column by column; bad cells become NaN and a diagnostic, never an error."""
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise ValueError(f"record {i + 1} is not an object")
    values, missing, unseen, invalid, out_of_range = empty_matrix(len(records), len(schema.features))

    for j, feature in enumerate(schema.features):
        column = [record.get(feature.name) for record in records]
        if feature.type == "categorical":
            codes, missing[:, j], unseen[:, j] = _categorical_column(column, feature.categories)
            values[:, j] = codes
        else:
            numbers, missing[:, j], invalid[:, j] = _numeric_column(column)
            values[:, j] = numbers
            out_of_range[:, j] = outside_range(feature, numbers)

    known = set(schema.names)
    if schema.target is not None:
        known.add(schema.target)
    names = schema.names
    flagged = (missing | unseen | invalid | out_of_range).any(axis=1)
    diagnostics = []
    for i, record in enumerate(records):
        unknown = [] if known.issuperset(record) else [key for key in record if key not in known]
        if not flagged[i]:
            diagnostics.append(RowDiagnostics(unknown=unknown))
            continue
        diagnostics.append(
            RowDiagnostics(
                missing=[names[j] for j in np.flatnonzero(missing[i])],
                unseen=[names[j] for j in np.flatnonzero(unseen[i])],
                out_of_range=[names[j] for j in np.flatnonzero(out_of_range[i])],
                unknown=unknown,
                invalid=[names[j] for j in np.flatnonzero(invalid[i])],
            )
        )
    return FeatureMatrix(values, diagnostics, missing, unseen, invalid, out_of_range)


def to_dmatrix(
    schema: FeatureSchema,
    matrix: FeatureMatrix | np.ndarray,
    label: np.ndarray | None = None,
    nthread: int = 1,
) -> xgb.DMatrix:
    values = matrix.values if isinstance(matrix, FeatureMatrix) else matrix
    return xgb.DMatrix(
        values,
        label=label,
        missing=np.nan,
        feature_names=internal_names(schema),
        feature_types=schema.feature_types,
        enable_categorical=True,
        nthread=nthread,
    )


def internal_names(schema: FeatureSchema) -> list[str]:
    return [f"f{j}" for j in range(len(schema.features))]


def category_text(value: Any) -> str:
    """A JSON number sent for a categorical column must match the CSV text it was trained on."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _categorical_column(column: list, categories: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact string matches are the common case; only the rest are looked at one by one."""
    index = {c: float(i) for i, c in enumerate(categories)}
    get = index.get
    found = [get(v) if type(v) is str else None for v in column]
    codes = np.array(found, dtype=np.float64)
    n = len(column)
    missing = np.zeros(n, dtype=bool)
    unseen = np.zeros(n, dtype=bool)
    for i in [i for i, code in enumerate(found) if code is None]:
        value = column[i]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            missing[i] = True
            continue
        text = category_text(value)
        code = get(text)
        if code is not None:
            codes[i] = code
        elif is_missing_token(text):
            missing[i] = True
        else:
            unseen[i] = True
    return codes, missing, unseen


def _numeric_column(column: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Let numpy convert the whole column at once; fall back to cell by cell only when it refuses."""
    try:
        numbers = np.array(column, dtype=np.float64)
    except (ValueError, TypeError):
        return _numeric_cells(column)
    if numbers.shape != (len(column),):
        return _numeric_cells(column)
    missing = np.isnan(numbers)
    invalid = np.isinf(numbers)
    numbers[invalid] = np.nan
    return numbers, missing, invalid


def _numeric_cells(column: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(column)
    numbers = np.full(n, np.nan, dtype=np.float64)
    missing = np.zeros(n, dtype=bool)
    invalid = np.zeros(n, dtype=bool)
    for i, value in enumerate(column):
        if value is None:
            missing[i] = True
        elif isinstance(value, (int, float)):
            number = float(value)
            if math.isnan(number):
                missing[i] = True
            elif math.isinf(number):
                invalid[i] = True
            else:
                numbers[i] = number
        elif isinstance(value, str):
            if is_missing_token(value):
                missing[i] = True
                continue
            number = parse_float(value)
            if number is None:
                invalid[i] = True
            else:
                numbers[i] = number
        else:
            invalid[i] = True
    return numbers, missing, invalid


def _first_extreme(present: np.ndarray, extreme) -> float:
    """Python's min/max keep the first of equal values, which only shows for 0.0 and -0.0."""
    value = float(extreme(present))
    if value == 0.0:
        value = float(present[np.flatnonzero(present == 0.0)[0]])
    return value


def _feature_values(feature: Feature, column: Column, rows: np.ndarray | None) -> np.ndarray:
    """A column as the model sees the feature: numbers, or the index among the schema's categories."""
    if isinstance(column, NumericColumn) and feature.type == "numeric":
        return column.values if rows is None else column.values[rows]
    if isinstance(column, CategoricalColumn):
        if feature.type == "numeric":
            table = np.array([parse_float(c) for c in column.categories] + [None], dtype=np.float64)
        elif column.categories == feature.categories:
            table = np.arange(len(column.categories) + 1, dtype=np.float64)
        else:
            index = {c: float(i) for i, c in enumerate(feature.categories)}
            table = np.array([index.get(c) for c in column.categories] + [None], dtype=np.float64)
        table[-1] = np.nan  # code -1: missing
        return table[column.codes if rows is None else column.codes[rows]]
    cells = column.cells()
    codes, _, _ = _categorical_column(cells if rows is None else [cells[i] for i in rows], feature.categories)
    return codes


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
