"""The bins every monitoring figure rests on, and a baseline built from a training's rows.

A numeric feature has the quantile edges of its training rows (10 bins; tied quantiles merge)
plus a missing bin ``m``; a categorical one keeps its most frequent categories (by their code in
the model's schema) and folds the rest, and any category unseen in training, into ``o``. The
held-out scores are binned on their own deciles. Labels are strings so they can be field names.
"""
import numpy as np

from maiascore.modeling import FeatureSchema, build_matrix

QUANTILE_BINS = 10
KEPT_CATEGORIES = 10
MISSING = "m"
OTHER = "o"
SHARE_FLOOR = 1e-4  # an empty bin counts as this share in the PSI, which would otherwise be infinite


def quantile_edges(values):
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return []
    qs = np.quantile(values, np.linspace(0, 1, QUANTILE_BINS + 1)[1:-1])
    return sorted({float(q) for q in qs})


def numeric_labels(edges, column):
    """Bin labels of a column: ``"0"``..``str(len(edges))``, ``m`` where the value is missing."""
    column = np.asarray(column, dtype=np.float64)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), column, side="right")
    return np.where(np.isnan(column), MISSING, idx.astype(str)).astype(object)


def categorical_labels(kept, column, unseen):
    """``str(code)`` for a kept category, ``o`` for the others and unseen ones, ``m`` when missing."""
    column = np.asarray(column, dtype=np.float64)
    out = np.full(len(column), OTHER, dtype=object)
    codes = np.where(np.isnan(column), -1, column).astype(np.int64)
    keep = np.isin(codes, np.asarray(kept, dtype=np.int64)) & ~np.isnan(column)
    out[keep] = codes[keep].astype(str)
    out[np.isnan(column) & ~np.asarray(unseen, dtype=bool)] = MISSING
    return out


def feature_labels(baseline, values, unseen):
    """(rows, features) labels for a matrix built with the version's schema."""
    cols = []
    for j, spec in enumerate(baseline["features"]):
        if spec["type"] == "categorical":
            cols.append(categorical_labels(spec["kept"], values[:, j], unseen[:, j]))
        else:
            cols.append(numeric_labels(spec["edges"], values[:, j]))
    return np.stack(cols, axis=1) if cols else np.empty((len(values), 0), dtype=object)


def all_labels(spec):
    if spec["type"] == "categorical":
        return [str(c) for c in spec["kept"]] + [OTHER, MISSING]
    return [str(i) for i in range(len(spec["edges"]) + 1)] + [MISSING]


def score_labels(edges, scores):
    return np.searchsorted(np.asarray(edges, dtype=np.float64), np.asarray(scores, dtype=np.float64),
                           side="right").astype(str)


def _counts(labels, names):
    values, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
    found = dict(zip(values.tolist(), counts.tolist()))
    return {name: int(found.get(name, 0)) for name in names}


def build_baseline(schema: FeatureSchema, train_values, train_unseen, test_scores):
    """The reference distributions of a version: its training matrix and its held-out scores."""
    features = []
    n = len(train_values)
    for j, feature in enumerate(schema.features):
        column = train_values[:, j]
        if feature.type == "categorical":
            codes, freq = np.unique(column[~np.isnan(column)].astype(np.int64), return_counts=True)
            order = sorted(zip(codes.tolist(), freq.tolist()), key=lambda cf: (-cf[1], cf[0]))
            spec = {"name": feature.name, "type": "categorical",
                    "kept": [c for c, _ in order[:KEPT_CATEGORIES]],
                    "categories": {str(c): feature.categories[c] for c, _ in order[:KEPT_CATEGORIES]
                                   if c < len(feature.categories)}}
            labels = categorical_labels(spec["kept"], column, train_unseen[:, j])
        else:
            spec = {"name": feature.name, "type": "numeric", "edges": quantile_edges(column)}
            labels = numeric_labels(spec["edges"], column)
        counts = _counts(labels, all_labels(spec))
        spec["counts"] = counts
        spec["missingRate"] = counts[MISSING] / n if n else 0.0
        features.append(spec)
    edges = quantile_edges(test_scores)
    names = [str(i) for i in range(len(edges) + 1)]
    return {"rows": {"train": int(n), "test": int(len(test_scores))}, "features": features,
            "score": {"edges": edges, "counts": _counts(score_labels(edges, test_scores), names)}}


def records_labels(baseline, schema, records):
    """Feature bin labels of records as the scoring pass sees them."""
    matrix = build_matrix(schema, records)
    return feature_labels(baseline, matrix.values, matrix.unseen)
