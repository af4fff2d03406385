"""Item 5: a training job's wall time against plain ``xgboost.train`` on the same data, and its memory.

For each size: a synthetic CSV (14 numeric, 6 categorical features) is stored as an
uploaded dataset through the product's service (the HTTP upload limit is 8 MB, too small
for 100k rows), a fresh worker is started, the training is launched with ``POST
/trainings`` (100 rounds, early stopping out of reach so every side runs all of them) and
the job's wall time is its own ``finishedAt - startedAt``. The worker's peak memory is
Linux's high-water mark (VmHWM) read just before the worker is stopped.
"""
import json
import time
import urllib.request

from bench.data import synthetic_csv
from bench.stack import peak_rss_mb, rss_mb, run_python

ROUNDS = 100
PARAMS = {"num_boost_round": ROUNDS, "early_stopping_rounds": 500}


def post_training(port, headers, dataset_id):
    body = json.dumps({"meta": {"dataset": dataset_id, "target": "target", "params": PARAMS, "activate": "never"}})
    request = urllib.request.Request(f"http://127.0.0.1:{port}/trainings", data=body.encode(), headers=headers,
                                     method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def job_breakdown(rows):
    """Where a training job's time goes, for one size, measured in a process of its own."""
    done = run_python("bench.training_breakdown", str(rows), str(ROUNDS), timeout=3600)
    if done.returncode != 0:
        return {"error": done.stderr[-1500:]}
    return json.loads(done.stdout)


def run_size(st, port, rows, log=print):
    from bson import ObjectId

    from maiascore.datasets.service import store_upload

    raw = synthetic_csv(rows)
    upload_started = time.perf_counter()
    dataset = store_upload(st.aid, st.user["_id"], f"synthetic-{rows}.csv", raw, "target")
    upload_seconds = time.perf_counter() - upload_started
    del raw
    worker = st.worker(queues=("trainings",), name=f"training-{rows}-")
    from bench.http_scenarios import wait_for, wait_workers

    wait_workers(st, 1)
    idle_rss = rss_mb(worker)
    posted = time.perf_counter()
    training = post_training(port, st.headers, str(dataset["_id"]))
    db = st.db()
    def settled_doc():
        found = db.trainings.find_one({"_id": ObjectId(training["id"])})
        return found if found and found["status"] in ("succeeded", "failed", "canceled") else None

    doc = wait_for(settled_doc, timeout=3600, interval=0.5)
    settled = time.perf_counter()
    peak = peak_rss_mb(worker.proc.pid)
    st.stop(worker)
    if not doc or doc["status"] != "succeeded":
        return {"rows": rows, "error": (doc or {}).get("error") or "training did not finish"}
    job_seconds = (doc["finishedAt"] - doc["startedAt"]).total_seconds()
    floor = json.loads(run_python("bench.training_floor", str(rows), str(ROUNDS), timeout=3600).stdout)
    result = {
        "rows": rows, "rounds": ROUNDS, "csv_mb": round(dataset["size"] / 2**20, 1),
        "upload_check_seconds": round(upload_seconds, 2),
        "job_seconds": round(job_seconds, 2), "post_to_succeeded_seconds": round(settled - posted, 2),
        "xgboost_train_seconds": floor["seconds"], "ratio": round(job_seconds / floor["seconds"], 2),
        "worker_idle_rss_mb": idle_rss, "worker_peak_rss_mb": peak, "xgboost_peak_rss_mb": floor["peak_rss_mb"],
        "auc": (doc.get("meta") or {}).get("metrics", {}).get("auc"),
        "floor": floor,
    }
    log(f"  training {rows} rows: job {result['job_seconds']} s vs xgboost.train {floor['seconds']} s "
        f"(x{result['ratio']}), worker peak {peak} MB vs {floor['peak_rss_mb']} MB")
    db.datasets.delete_one({"_id": dataset["_id"]})
    return result


def run(st, port, sizes, breakdown_rows=None, log=print):
    results = {}
    for rows in sizes:
        results[str(rows)] = run_size(st, port, rows, log)
    out = {"sizes": results, "ratio": {k: v.get("ratio") for k, v in results.items()}}
    if breakdown_rows:
        out["breakdown"] = job_breakdown(breakdown_rows)
        log(f"  training breakdown ({breakdown_rows} rows): {out['breakdown']}")
    return out
