"""Pure machine-learning core of MaiaScore: CSV datasets, XGBoost training and scoring.

No web framework, database or queue is imported here, so the web app and the
training workers can share this package and tests can run it directly.
"""

from .columns import CategoricalColumn, NumericColumn
from .datasets import BinaryTarget, Dataset, DatasetError, binary_target, labels_from, load_sample, parse_csv
from .features import (
    Feature,
    FeatureMatrix,
    FeatureSchema,
    RowDiagnostics,
    build_matrix,
    dataset_matrix,
    infer_schema,
    to_dmatrix,
)
from .scoring import ScoreResult, ScoreScale, ScoringModel
from .training import ALLOWED_PARAMS, DEFAULT_PARAMS, TrainedModel, auc, evaluate, train, validate_params

__all__ = [
    "ALLOWED_PARAMS",
    "BinaryTarget",
    "DEFAULT_PARAMS",
    "CategoricalColumn",
    "Dataset",
    "DatasetError",
    "Feature",
    "FeatureMatrix",
    "FeatureSchema",
    "RowDiagnostics",
    "NumericColumn",
    "ScoreResult",
    "ScoreScale",
    "ScoringModel",
    "TrainedModel",
    "auc",
    "binary_target",
    "build_matrix",
    "dataset_matrix",
    "evaluate",
    "infer_schema",
    "labels_from",
    "load_sample",
    "parse_csv",
    "to_dmatrix",
    "train",
    "validate_params",
]
