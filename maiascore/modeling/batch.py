"""Scoring a whole table at once: a chunk of a scoring run, or a Dask partition.

The cells go through the upload's own rules (:func:`maiascore.modeling.frames.frame_dataset`)
and the numbers come from one ``inplace_predict`` per table, column-wise, with no dict per
row: a row gets the score, probability and confidence single-report scoring would give it
(same encoding, same empty-row rule, same confidence weights). The per-row dicts single
scoring needs (:meth:`ScoringModel.score`) are built only where a report is written.
These functions run inside Dask workers too: plain data in, plain data out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .columns import NumericColumn
from .features import FeatureMatrix, _feature_values, category_text, empty_matrix, outside_range, to_dmatrix
from .frames import frame_dataset
from .scoring import ScoreScale, ScoringModel

ROW = "row"
SCORE, PROBABILITY, CONFIDENCE, VERSION = "score", "probability", "confidence", "modelVersion"


def table_matrix(schema, dataset) -> FeatureMatrix:
    """:func:`build_matrix`'s values and masks, read straight from typed columns (no diagnostics)."""
    values, missing, unseen, invalid, out_of_range = empty_matrix(dataset.row_count, len(schema.features))
    for j, feature in enumerate(schema.features):
        column = dataset.data.get(feature.name)
        if column is None:
            missing[:, j] = True
            continue
        numbers = np.asarray(_feature_values(feature, column, None), dtype=np.float64)
        values[:, j] = numbers
        missing[:, j] = column.missing
        lost = np.isnan(numbers) & ~missing[:, j]
        if feature.type == "categorical":
            unseen[:, j] = lost
            continue
        invalid[:, j] = lost
        out_of_range[:, j] = outside_range(feature, numbers)  # compared in float64, as single scoring does
    return FeatureMatrix(values, [], missing, unseen, invalid, out_of_range)


def scoring_model(model_bytes: bytes, schema: dict, version: str, scale: dict) -> ScoringModel:
    return ScoringModel.from_bytes(model_bytes, schema, version, ScoreScale(**scale))


def score_table(model: ScoringModel, frame: pd.DataFrame, key: str | None, first_row: int,
                top: int = 0) -> pd.DataFrame:
    """One row per input row: its key (the ``key`` column's text, else its row number from 1),
    score, probability, confidence, model version and, with ``top``, its largest contributions."""
    dataset = frame_dataset(frame)
    matrix = table_matrix(model.schema, dataset)
    proba = model.booster.inplace_predict(matrix.values, missing=np.nan)
    empty = np.isnan(matrix.values).all(axis=1)
    contribs = None
    if top or empty.any():
        shap = model.booster.predict(to_dmatrix(model.schema, matrix), pred_contribs=True)
        contribs, bias = shap[:, :-1], shap[:, -1]
        if empty.any():
            proba = np.where(empty, 1.0 / (1.0 + np.exp(-bias)), proba)
            contribs = np.where(empty[:, None], 0.0, contribs)
    out = pd.DataFrame({ROW: np.arange(first_row + 1, first_row + 1 + dataset.row_count, dtype=np.int64)})
    if key is not None:
        out.insert(0, key, row_keys(dataset, key))
    out[SCORE] = model.scale.scores(proba)
    out[PROBABILITY] = np.round(proba.astype(np.float64), 6)
    out[CONFIDENCE] = model.confidence(matrix)
    out[VERSION] = model.version
    if top:
        names = model.schema.names
        order = np.argsort(-np.abs(contribs), axis=1, kind="stable")[:, :top]
        picked = np.round(np.take_along_axis(contribs, order, axis=1).astype(np.float64), 6)
        for i in range(order.shape[1]):
            out[f"top{i + 1}Feature"] = [names[j] for j in order[:, i].tolist()]
            out[f"top{i + 1}Contribution"] = picked[:, i]
    return out


def row_keys(dataset, key: str) -> list:
    """The key column as text (a number as its CSV text); a missing key stays None."""
    column = dataset.data[key]
    if isinstance(column, NumericColumn):
        return [None if np.isnan(v) else category_text(float(v)) for v in column.values.tolist()]
    return column.cells()


def table_records(dataset, skip: tuple = ()) -> list[dict]:
    """The rows as report ``features``: numbers for numeric columns, texts otherwise, missing cells left out."""
    names = [name for name in dataset.columns if name not in skip]
    cells = []
    for name in names:
        column = dataset.data[name]
        if isinstance(column, NumericColumn):
            cells.append([None if np.isnan(v) else (int(v) if v.is_integer() and abs(v) < 2 ** 53 else v)
                          for v in column.values.tolist()])
        else:
            cells.append(column.cells())
    return [{name: value for name, value in zip(names, row) if value is not None} for row in zip(*cells)]


_models: dict = {}


def cached_model(payload: dict) -> ScoringModel:
    """The payload's model, built once per process (a Dask worker scores many partitions with it)."""
    key = (payload["id"], payload["version"])
    model = _models.get(key)
    if model is None:
        _models.clear()
        model = _models[key] = scoring_model(payload["bytes"], payload["schema"], payload["version"],
                                             payload["scale"])
    return model


def score_chunk(frame: pd.DataFrame, payload: dict, options: dict, first_row: int):
    """A chunk's results: a table for a result file, or, for reports, ``(keys, features, results)``
    with each result as single-report scoring gives it (explanation cut to ``top``)."""
    model = cached_model(payload)
    key, top = options.get("rowKey"), options.get("topContributions") or 0
    if not options.get("reports"):
        return score_table(model, frame, key, first_row, top)
    dataset = frame_dataset(frame)
    keys = row_keys(dataset, key)
    keep = [i for i, k in enumerate(keys) if k not in (None, "")]
    records = table_records(dataset, skip=(key, options.get("target")))
    records = [records[i] for i in keep]
    results = []
    for result in model.score(records):
        out = result.to_dict()
        out["explanation"] = out["explanation"][:top]
        results.append(out)
    return [keys[i] for i in keep], records, results, dataset.row_count
