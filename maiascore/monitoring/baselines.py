"""Each model version's baseline (``model_baselines``, one document per version, nothing per row)."""
import logging

import numpy as np
import xgboost as xgb

from config import settings
from maiascore.clock import stored_now
from maiascore.connections import get_db
from maiascore.events import MODEL_STORED, MODEL_TRAINED
from maiascore.modeling import ScoreScale, binary_target, dataset_matrix, to_dmatrix
from maiascore.modeling.training import stratified_split
from maiascore.monitoring.bins import build_baseline

log = logging.getLogger("maiascore.monitoring")


def score_scale():
    cfg = settings()
    return ScoreScale(base_points=cfg.SCORE_BASE_POINTS, base_odds=cfg.SCORE_BASE_ODDS, pdo=cfg.SCORE_PDO,
                      min_score=cfg.SCORE_MIN, max_score=cfg.SCORE_MAX)


def baseline_id(aid, version):
    return f"{aid}:{version}"


def from_training(trained, dataset, target, meta):
    """The baseline of a trained model: its training rows and its held-out rows, split again exactly
    as ``maiascore.modeling.train`` split them (same labels, test share and seed)."""
    classes = binary_target(dataset, target, meta.get("positiveLabel"))
    train_idx, _, test_idx = stratified_split(classes.labels, meta.get("testSize", 0.2), meta.get("seed", 42),
                                              (classes.negative, classes.positive))
    schema = trained.schema
    values = dataset_matrix(schema, dataset, train_idx)
    booster = xgb.Booster(params={"nthread": 1})
    booster.load_model(bytearray(trained.booster_bytes))
    proba = booster.predict(to_dmatrix(schema, dataset_matrix(schema, dataset, test_idx)))
    return build_baseline(schema, values, np.zeros(values.shape, dtype=bool), score_scale().scores(proba))


def built(trained, dataset, target, meta):
    """``from_training``, or None when it cannot be built: the model is worth more than its baseline."""
    try:
        return from_training(trained, dataset, target, meta)
    except Exception:
        log.exception("could not build the monitoring baseline of a trained model")
        return None


@MODEL_TRAINED.connect
def attach(trained, dataset, target, meta):
    """A trained model carries its baseline to the registration (``store``)."""
    trained.baseline = built(trained, dataset, target, meta)


@MODEL_STORED.connect
def store(aid, version, trained):
    save(aid, version, getattr(trained, "baseline", None))


def save(aid, version, baseline):
    """Stores a version's baseline once; None (no baseline could be built) stores nothing."""
    if baseline is None:
        return None
    doc = {"_id": baseline_id(aid, version), "aid": aid, "version": str(version), "created_at": stored_now(),
           **baseline}
    get_db().model_baselines.replace_one({"_id": doc["_id"]}, doc, upsert=True)
    return doc


def load(aid, version):
    return get_db().model_baselines.find_one({"_id": baseline_id(aid, version)})
