"""Scoring references with a trained model: a points score, P(good), a confidence and reasons.

"good" is the training target's positive class: good/1/true/yes for the known label pairs, else
the ``positiveLabel`` the training named.

Score scale (points to double the odds): ``factor = pdo / ln 2``,
``offset = base_points - factor * ln(base_odds)``,
``score = offset + factor * ln(p / (1 - p))`` where p = P(good) clipped to
[1e-6, 1 - 1e-6]; the result is clamped to [min_score, max_score] and rounded
to an integer. With the defaults, odds of 50:1 (good:bad) score 600 and every
doubling of the odds adds 20 points.

Explanation: XGBoost's own SHAP values (``pred_contribs``), in log-odds; a
positive contribution pushes the reference towards "good". The five features
with the largest absolute contribution are returned.

A record with no usable feature at all gets the model's expected output over
its training data (the SHAP base value) as P(good), with zero contributions,
instead of whatever the trees' default branches for missing values happen to
give: that path is never exercised when training data is complete.

Confidence: how much of the model's evidence the record actually provided.
Each feature carries a weight equal to its share of the model's total gain
(XGBoost ``total_gain`` importance, normalised to sum to 1; equal shares for a
model without any split). Starting from 1, the full weight is subtracted for
every feature that is missing, has a category not seen in training, or is not
a valid number; half the weight is subtracted for a numeric feature outside
the range seen in training. The result is clamped to [0, 1] and rounded to 4
decimals: a complete, in-range record scores 1.0, a record with no usable
feature 0.0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost as xgb

from .features import FeatureMatrix, FeatureSchema, build_matrix, to_dmatrix
from .training import gain_shares

EXPLANATION_SIZE = 5
P_CLIP = 1e-6


@dataclass(frozen=True)
class ScoreScale:
    base_points: float = 600
    base_odds: float = 50.0
    pdo: float = 20
    min_score: int = 300
    max_score: int = 850

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)

    def scores(self, proba: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(proba, dtype=np.float64), P_CLIP, 1 - P_CLIP)
        raw = self.offset + self.factor * np.log(p / (1 - p))
        return np.floor(np.clip(raw, self.min_score, self.max_score) + 0.5).astype(np.int64)

    def score(self, probability: float) -> int:
        return int(self.scores(np.array([probability]))[0])


@dataclass
class ScoreResult:
    score: int
    probability: float
    confidence: float
    version: str
    explanation: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The API's JSON shape."""
        return {
            "score": self.score,
            "scoreProbability": self.probability,
            "scoreConfidence": self.confidence,
            "scoreVersion": self.version,
            "explanation": self.explanation,
            "warnings": self.warnings,
        }


class ScoringModel:
    """A loaded model, built once per version and reused for every request."""

    def __init__(self, booster: xgb.Booster, schema: FeatureSchema, version: str, scale: ScoreScale | None = None):
        self.booster = booster
        self.schema = schema
        self.version = version
        self.scale = scale or ScoreScale()
        shares = schema.gain_share or gain_shares(booster, schema)
        self.weights = np.array([shares.get(name, 0.0) for name in schema.names], dtype=np.float64)

    @classmethod
    def from_bytes(
        cls,
        booster_bytes: bytes,
        schema_dict: dict | FeatureSchema,
        version: str,
        scale: ScoreScale | None = None,
    ) -> ScoringModel:
        schema = schema_dict if isinstance(schema_dict, FeatureSchema) else FeatureSchema.from_dict(schema_dict)
        booster = xgb.Booster(params={"nthread": 1})
        booster.load_model(bytearray(booster_bytes))
        booster.set_param({"nthread": 1})
        if booster.num_features() != len(schema.features):
            raise ValueError(
                f"model expects {booster.num_features()} features but the schema lists {len(schema.features)}"
            )
        return cls(booster, schema, version, scale)

    def score(self, records: list[dict]) -> list[ScoreResult]:
        """Score a batch with one prediction and one SHAP pass, results in input order."""
        if not records:
            return []
        matrix = build_matrix(self.schema, records)
        dmatrix = to_dmatrix(self.schema, matrix)
        proba = self.booster.predict(dmatrix)
        shap = self.booster.predict(dmatrix, pred_contribs=True)
        contribs, bias = shap[:, :-1], shap[:, -1]
        empty = np.isnan(matrix.values).all(axis=1)
        if empty.any():
            proba = np.where(empty, 1.0 / (1.0 + np.exp(-bias)), proba)
            contribs = np.where(empty[:, None], 0.0, contribs)
        scores = self.scale.scores(proba).tolist()
        probabilities = np.round(proba.astype(np.float64), 6).tolist()
        confidence = self.confidence(matrix).tolist()
        top = np.argsort(-np.abs(contribs), axis=1, kind="stable")[:, :EXPLANATION_SIZE]
        top_values = np.round(np.take_along_axis(contribs, top, axis=1).astype(np.float64), 6).tolist()
        names = self.schema.names
        results = []
        for i, record in enumerate(records):
            explanation = [
                {"feature": names[j], "value": _json_value(record.get(names[j])), "contribution": value}
                for j, value in zip(top[i].tolist(), top_values[i])
            ]
            results.append(
                ScoreResult(
                    score=scores[i],
                    probability=probabilities[i],
                    confidence=confidence[i],
                    version=self.version,
                    explanation=explanation,
                    warnings=self._warnings(matrix, i, record, bool(empty[i])),
                )
            )
        return results

    def confidence(self, matrix: FeatureMatrix) -> np.ndarray:
        lost = (matrix.missing | matrix.unseen | matrix.invalid).astype(np.float64)
        lost += 0.5 * matrix.out_of_range
        value = 1.0 - lost @ self.weights
        return np.round(np.clip(value, 0.0, 1.0), 4)

    def _warnings(self, matrix: FeatureMatrix, i: int, record: dict, empty: bool) -> list[str]:
        diag = matrix.diagnostics[i]
        warnings = []
        if diag.unknown:
            warnings.append(f"unknown features ignored: {', '.join(diag.unknown)}")
        if empty:
            warnings.append("all features missing: the score reflects the population average only")
        elif diag.missing:
            warnings.append(f"missing features: {', '.join(diag.missing)}")
        for name in diag.unseen:
            warnings.append(f"unseen category for {name}: {str(record.get(name))!r}")
        for name in diag.invalid:
            warnings.append(f"not a valid number for {name}: {str(record.get(name))!r} (treated as missing)")
        if diag.out_of_range:
            warnings.append(f"out of training range: {', '.join(diag.out_of_range)}")
        return warnings


def _json_value(value: Any) -> Any:
    """Echo the input, except NaN/inf which JSON cannot carry."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
