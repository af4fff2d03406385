"""Training on Dask vs in one process, on a synthetic CSV of ``--rows`` rows.

    python -m bench.dask_training --rows 200000 [--workers 2] [--rounds 50]

Three measurements, each in a fresh child process so each peak RSS is its own:
``dask`` (maiascore's Dask engine against a local cluster of ``--workers`` worker processes;
the RSS is the coordinator's, i.e. the RQ worker's), ``local`` (maiascore's local engine:
parse the whole file, train) and ``xgboost`` (the floor: numpy from pandas, plain
``xgboost.train``). Prints one JSON line per engine: wall seconds, peak RSS MiB, AUC.
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def make_csv(path, rows, seed=1):
    rng = np.random.default_rng(seed)
    with open(path, "w") as out:
        out.write("income,age,debt,city,label\n")
        step = 100_000
        for start in range(0, rows, step):
            n = min(step, rows - start)
            income = rng.normal(3000, 900, n).round(2)
            age = rng.integers(18, 80, n)
            debt = rng.gamma(2, 800, n).round(2)
            city = rng.choice(["Lyon", "Porto", "Graz", "Turku"], n)
            logit = (income - 3000) / 900 - (debt - 1600) / 1100 + (age - 45) / 40 + (city == "Graz") * 0.5
            label = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "good", "bad")
            for row in zip(income, age, debt, city, label):
                out.write(",".join(map(str, row)) + "\n")


class _Run:
    """What an engine needs of a training run, without MongoDB."""

    id = "bench"
    owned = {}

    def __init__(self):
        self.lost = threading.Event()

    def progress(self, percent):
        pass


class _Source:
    by_reference = True
    target = "label"

    def __init__(self, path, blocksize):
        self.path, self.blocksize = path, blocksize

    def frame(self):
        import dask.dataframe as dd

        return dd.read_csv(self.path, dtype=str, keep_default_na=False, na_filter=False, blocksize=self.blocksize)


def child(engine, path, rounds, workers, address):
    from maiascore.modeling import parse_csv, train
    from maiascore.modeling.training import auc

    meta = {"params": {"num_boost_round": rounds, "early_stopping_rounds": rounds}, "seed": 42, "testSize": 0.2}
    start = time.perf_counter()
    if engine == "local":
        trained = train(parse_csv(Path(path).read_bytes(), "label"), "label", params=meta["params"])
        result = trained.metrics["auc"]
    elif engine == "xgboost":
        import pandas as pd
        import xgboost as xgb

        frame = pd.read_csv(path)
        frame["city"] = frame["city"].astype("category")
        y = (frame.pop("label") == "good").astype(int).to_numpy()
        cut = int(len(y) * 0.8)
        dtrain = xgb.DMatrix(frame[:cut], y[:cut], enable_categorical=True)
        booster = xgb.train({"objective": "binary:logistic", "tree_method": "hist", "max_depth": 3, "eta": 0.1,
                             "nthread": 1}, dtrain, rounds)
        result = auc(y[cut:], booster.predict(xgb.DMatrix(frame[cut:], enable_categorical=True)))
    else:
        from distributed import Client

        from maiascore.trainings import engines

        engines._record = lambda run, fields: None  # no MongoDB in the benchmark
        with Client(address, set_as_default=False) as client, client.as_current():
            trained = engines.DaskTraining(_Run(), client, _Source(path, 32 * 1024 * 1024), meta).run()
        result = trained.metrics["auc"]
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"engine": engine, "rows": None, "seconds": round(seconds, 2), "peak_rss_mib": round(peak, 1),
                      "auc": round(float(result), 4), "dask_workers": workers if engine == "dask" else None}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--engines", default="dask,local,xgboost")
    parser.add_argument("--child", nargs=3)  # internal: engine, path, scheduler address
    args = parser.parse_args()
    if args.child:
        engine, path, address = args.child
        return child(engine, path, args.rounds, args.workers, address)
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "data.csv")
        make_csv(path, args.rows)
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None) as cluster:
            for engine in args.engines.split(","):
                out = subprocess.run([sys.executable, "-m", "bench.dask_training", "--rounds", str(args.rounds),
                                      "--workers", str(args.workers), "--child", engine, path,
                                      cluster.scheduler_address], capture_output=True, text=True, check=True)
                line = json.loads(out.stdout.strip().splitlines()[-1])
                line["rows"] = args.rows
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
