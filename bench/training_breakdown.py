"""Where a training job's time goes: ``python -m bench.training_breakdown ROWS ROUNDS`` prints JSON.

Runs the job's own steps (``parse_csv`` of the uploaded bytes, then
``maiascore.modeling.train``) on the synthetic CSV, with each step timed by wrapping it.
"""
import json
import os
import sys
import time

from bench.data import synthetic_csv
from bench.stack import peak_rss_mb
from bench.worker_profile import Timers


def main(rows, rounds):
    import xgboost as xgb

    import maiascore.modeling.training as training
    from maiascore.modeling import parse_csv

    raw = synthetic_csv(rows)
    timers = Timers()
    for name, label in (("binary_target", "labels"), ("infer_schema", "infer_schema"),
                        ("dataset_matrix", "dataset_matrix (numpy, per column)"), ("to_dmatrix", "DMatrix"),
                        ("evaluate", "evaluate on test"), ("feature_importance", "feature importance"),
                        ("gain_shares", "gain shares")):
        timers.wrap(training, name, label)
    timers.wrap(xgb, "train", "xgboost.train (boosting)")
    started = time.perf_counter()
    parse_started = time.perf_counter()
    dataset = parse_csv(raw, "target")
    timers.seconds["parse_csv"] += time.perf_counter() - parse_started
    training.train(dataset, "target", params={"num_boost_round": rounds, "early_stopping_rounds": 500})
    wall = time.perf_counter() - started
    breakdown = {k: round(v, 3) for k, v in sorted(timers.seconds.items(), key=lambda item: -item[1])}
    breakdown["other"] = round(wall - sum(timers.seconds.values()), 3)
    return {"rows": rows, "seconds": round(wall, 3), "breakdown_seconds": breakdown,
            "peak_rss_mb": peak_rss_mb(os.getpid())}


if __name__ == "__main__":
    json.dump(main(int(sys.argv[1]), int(sys.argv[2])), sys.stdout)
