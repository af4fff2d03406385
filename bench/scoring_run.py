"""A scoring run on ``--rows`` synthetic rows (default 1M) to a Parquet result, against its floor.

    python -m bench.scoring_run --rows 100000

The run is the product's: a Parquet data set registered by URI under DATASET_ROOTS, a model
registered as a training's, ``POST /scoring-runs``'s service call, and a real ``rq worker``
(training queue) that scores it in SCORING_RUN_CHUNK_ROWS chunks, writes the parts to GridFS
and assembles the result; timed from the POST to ``succeeded`` (the worker is started first
and idle). The floor: the same file read with pyarrow and one ``inplace_predict`` in one
process (categories encoded with pandas). Prints one JSON line: rows/s of each and the ratio.
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import xgboost as xgb

from bench.data import synthetic_csv, synthetic_table
from bench.stack import Stack


def make_parquet(path, rows):
    columns, numeric, codes, labels = synthetic_table(rows, seed=11)
    frame = pd.DataFrame(numeric, columns=columns[:numeric.shape[1]])
    for j, name in enumerate(columns[numeric.shape[1]:]):
        frame[name] = np.array([f"c{i}" for i in range(16)])[codes[:, j]]
    frame["target"] = np.where(labels == 1, "good", "bad")  # a registered data set names its label column
    frame.insert(0, "ref", np.char.add("r", np.arange(rows).astype(str)))
    frame.to_parquet(path, row_group_size=100_000)


def train_model(aid):
    from bson import ObjectId

    from maiascore.modeling import parse_csv, train
    from maiascore.trainings import registry

    trained = train(parse_csv(synthetic_csv(20_000)), "target", params={"num_boost_round": 100})
    training_id = str(ObjectId())
    registry.store_model(aid, training_id, registry.new_version(aid), trained.booster_bytes,
                         trained.schema.to_dict(), trained.metrics)
    return registry.activate(aid, training_id), trained


def floor(path, trained):
    """pyarrow read + one inplace_predict, in this process."""
    start = time.perf_counter()
    frame = pq.read_table(path).to_pandas()
    schema = trained.schema
    values = np.empty((len(frame), len(schema.features)), dtype=np.float32)
    for j, feature in enumerate(schema.features):
        column = frame[feature.name]
        if feature.type == "categorical":
            values[:, j] = pd.Categorical(column, categories=feature.categories).codes.astype(np.float32)
            values[values[:, j] < 0, j] = np.nan
        else:
            values[:, j] = column.to_numpy(dtype=np.float32)
    booster = xgb.Booster()
    booster.load_model(bytearray(trained.booster_bytes))
    proba = booster.inplace_predict(values, missing=np.nan)
    assert len(proba) == len(frame)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="maiascore-scoring-run-"))
    path = data / "applicants.parquet"
    make_parquet(path, args.rows)
    roots = f"file://{data}/"
    os.environ["DATASET_ROOTS"] = roots
    with Stack("scoring-run", extra_env={"DATASET_ROOTS": roots}) as stack:
        stack.setup_tenant()
        # imported once the stack has set MONGO_URI and friends: connections read them on first use
        from maiascore.connections import get_db
        from maiascore.scoring_runs import service
        from maiascore.datasets import service as datasets

        model, trained = train_model(stack.aid)
        dataset = datasets.register(stack.aid, stack.user["_id"], f"file://{path}")
        stack.worker(queues=("trainings",), scheduler=False)
        time.sleep(3)  # the worker is up and idle before the clock starts
        start = time.perf_counter()
        run = service.create_run(stack.aid, stack.user["_id"], {
            "dataset": str(dataset["_id"]), "modelVersion": None,
            "output": {"kind": "file", "format": "parquet", "rowKey": "ref", "topContributions": None}})
        while True:
            doc = get_db().scoring_runs.find_one({"_id": run["_id"]})
            if doc["status"] in ("succeeded", "failed", "canceled"):
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        assert doc["status"] == "succeeded", doc.get("error")
        result = get_db()["scoring_runs.files"].find_one({"_id": doc["result"]["fileId"]})
        assert doc["result"]["rows"] == args.rows and result["length"] == doc["result"]["size"]
    floor_seconds = floor(path, trained)
    print(json.dumps({"rows": args.rows, "chunkRows": doc["chunkRows"], "engine": doc["engine"],
                      "run_seconds": round(seconds, 2), "run_rows_per_s": round(args.rows / seconds),
                      "floor_seconds": round(floor_seconds, 2), "floor_rows_per_s": round(args.rows / floor_seconds),
                      "floor_over_run": round(seconds / floor_seconds, 1)}))


if __name__ == "__main__":
    main()
