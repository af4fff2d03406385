"""The training floor: plain ``xgboost.train`` on the same synthetic rows, split, parameters and rounds.

Run as ``python -m bench.training_floor ROWS ROUNDS`` (a process of its own, so its peak
memory is its own); prints JSON. Timed: building the DMatrix objects from numpy arrays
already in memory, and boosting. Not timed: generating the data.
"""
import json
import os
import sys
import time

import numpy as np
import xgboost as xgb

from bench.data import synthetic_table
from bench.stack import peak_rss_mb


def main(rows, rounds):
    from maiascore.modeling.training import DEFAULT_PARAMS, stratified_split

    columns, numeric, codes, labels = synthetic_table(rows)
    values = np.concatenate([numeric, codes.astype(np.float32)], axis=1)
    types = ["q"] * numeric.shape[1] + ["c"] * codes.shape[1]
    train_idx, val_idx, _ = stratified_split(labels, 0.2, 42)
    params = {k: v for k, v in DEFAULT_PARAMS.items() if k not in ("num_boost_round", "early_stopping_rounds")}
    params.update(objective="binary:logistic", eval_metric="logloss", tree_method="hist", seed=42, nthread=1)
    started = time.perf_counter()
    names = [f"f{j}" for j in range(values.shape[1])]
    dtrain = xgb.DMatrix(values[train_idx], label=labels[train_idx], feature_names=names, feature_types=types,
                         enable_categorical=True, nthread=1)
    dval = xgb.DMatrix(values[val_idx], label=labels[val_idx], feature_names=names, feature_types=types,
                       enable_categorical=True, nthread=1)
    built = time.perf_counter()
    xgb.train(params, dtrain, num_boost_round=rounds, evals=[(dval, "validation")], verbose_eval=False)
    finished = time.perf_counter()
    return {"rows": rows, "rounds": rounds, "seconds": round(finished - started, 3),
            "dmatrix_seconds": round(built - started, 3), "train_seconds": round(finished - built, 3),
            "peak_rss_mb": peak_rss_mb(os.getpid())}


if __name__ == "__main__":
    json.dump(main(int(sys.argv[1]), int(sys.argv[2])), sys.stdout)
