"""The group's labelled score reports as a training table.

The reports are read by the reports package (:mod:`maiascore.reports.labelled`), which sits
above this one: :mod:`maiascore.domains` connects it here in every process, so data sets never
read the ``score_reports`` collection nor import the package that owns it.
"""
from array import array

import numpy as np

from config import settings
from maiascore.modeling import Dataset, DatasetError
from maiascore.modeling.columns import column_from_values, sparse_column
from maiascore.modeling.datasets import MIN_ROWS, is_missing_token
from maiascore.modeling.features import category_text

TARGET = "outcome"
_reader = {}


def connect(reader):
    """``reader`` offers ``LABELS`` (the outcomes that label a report), ``count_labelled(aid, limit=None)``, ``count_feature_names(aid, limit, without)``
    and ``labelled_features(aid)`` (each report's ``features`` and ``outcome``)."""
    _reader["reports"] = reader


def _reports():
    reader = _reader.get("reports")
    if reader is None:
        raise RuntimeError("no reader of labelled reports is connected: import maiascore.domains")
    return reader


def labels():
    return _reports().LABELS


def count(aid, limit=None):
    """How many of the group's reports have a known outcome, counted up to ``limit`` when given."""
    return _reports().count_labelled(aid, limit)


def feature_names(aid, limit):
    """How many distinct feature names the group's labelled reports carry, counted up to ``limit``."""
    return _reports().count_feature_names(aid, limit, TARGET)


def reports_dataset(aid):
    """The group's score reports whose ``outcome`` is known, as a table: one column per feature key.

    Built column by column from the cells present: each feature key keeps the row numbers and
    texts of the reports that carry it, so memory follows the cells sent, not reports x distinct
    names; each column then becomes one numpy array. Values become the text a CSV cell would
    hold (``category_text``), so a model trained here encodes categories exactly as scoring does.
    """
    limit = settings().TRAINING_MAX_REPORT_FEATURES
    cells = {}  # feature name -> (row numbers, texts), in order of first appearance
    outcomes = []
    for row, doc in enumerate(_reports().labelled_features(aid)):
        features = doc.get("features")
        if isinstance(features, dict):
            for key, value in features.items():
                if key == TARGET or value is None:
                    continue  # the label itself must never be a feature
                text = category_text(value)
                if is_missing_token(text):
                    continue
                column = cells.get(key)
                if column is None:
                    if len(cells) >= limit:
                        raise DatasetError(f"the labelled score reports carry more than {limit} distinct feature "
                                           "names (TRAINING_MAX_REPORT_FEATURES)")
                    column = cells[key] = (array("q"), [])
                column[0].append(row)
                column[1].append(text)
        outcomes.append(doc["outcome"])
    if len(outcomes) < MIN_ROWS:
        raise DatasetError(f"the account group has {len(outcomes)} score reports with a known outcome (good/bad); "
                           f"at least {MIN_ROWS} are needed to train on them")
    if not cells:
        raise DatasetError("the labelled score reports carry no features")
    columns = list(cells)
    data = {}
    for name in columns:
        rows, texts = cells.pop(name)
        data[name] = sparse_column(len(outcomes), np.frombuffer(rows, dtype=np.int64), texts)
    data[TARGET] = column_from_values(outcomes, "categorical")
    return Dataset(columns=[*columns, TARGET], data=data, target=TARGET)
