"""Item 3: end-to-end scoring, from the first POST until every report is ``processed``.

Floor: the same reports through the least work the pipeline cannot avoid, in one
process on the same MongoDB: store each report (``insert_one`` singly,
``insert_many`` per 1,000 in bulk), read it back (``find_one`` / ``find`` by an indexed
``batch``), raw ``inplace_predict``, write the score (``update_one`` / one
``bulk_write`` per 1,000). No HTTP, no queue, no SHAP, no validation.
"""
import json
import time

import numpy as np
from bson import ObjectId
from pymongo import UpdateOne

from bench.data import reference_features
from bench.floor import encode
from bench.http_scenarios import bulk_requests, load, post_requests, reset_reports, wait_workers
from bench.stack import SCORING


def product_run(st, port, mode, workers, total):
    reset_reports(st)
    db = st.db()
    for _ in range(workers):
        st.worker(queues=SCORING)
    wait_workers(st, workers)
    started = time.perf_counter()
    if mode == "single":
        posted = load(port, post_requests(st.headers, prefix="e2e"), connections=8, total=total, keep_bodies=True)
        ids = [json.loads(body)["id"] for body in posted["bodies"]]
    else:
        posted = load(port, bulk_requests(st.headers, total), connections=2, total=-(-total // 1000),
                      keep_bodies=True)
        ids = [item["id"] for body in posted["bodies"] for item in json.loads(body)["reports"] if "id" in item]
    posted_at = time.perf_counter()
    finished = wait_processed(db, st.aid, mode, ids)
    processed = db.score_reports.count_documents({"aid": st.aid, "status": "processed"})
    st.stop_workers()
    elapsed = finished - started
    return {
        "mode": mode, "workers": workers, "reports": total, "accepted": len(ids), "processed": processed,
        "post_statuses": posted["statuses"], "post_seconds": round(posted_at - started, 2),
        "seconds": round(elapsed, 2), "reports_per_s": round(processed / elapsed, 1),
    }


def wait_processed(db, aid, mode, ids, timeout=1800):
    """The moment every accepted report was seen processed.

    Looked at cheaply every 50 ms: the newest report (the single lane scores each group's
    reports oldest first) or the group's batch documents (the bulk lane), then confirmed by one
    count, which on the embedded server reads every matching document (~300 ms at 15,000
    reports: a count per poll would take a third of the database from the run it measures).
    """
    newest = max(ObjectId(i) for i in ids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if mode == "single":
            done = (db.score_reports.find_one({"_id": newest}, {"status": 1}) or {}).get("status") == "processed"
        else:
            done = db.score_batches.find_one({"aid": aid, "status": {"$ne": "done"}}, {"_id": 1}) is None
        if done:
            seen = time.perf_counter()
            if db.score_reports.count_documents({"aid": aid, "status": "processed"}) >= len(ids):
                return seen
            time.sleep(1.0)  # some older report is still queued: look less often
        time.sleep(0.05)
    return time.perf_counter()


def floor_run(st, mode, total):
    """The storage + raw-xgboost floor, single-threaded in this process."""
    from bench.floor import floor_model, forget_model

    reset_reports(st)
    db = st.db()
    forget_model()
    model = floor_model()
    features = reference_features()
    coll = db.floor_reports
    started = time.perf_counter()
    if mode == "single":
        ids = []
        for i in range(total):
            doc = {"_id": ObjectId(), "aid": st.aid, "features": features[i % len(features)], "status": "queued",
                   "batch": str(ObjectId())}
            coll.insert_one(doc)
            ids.append(doc["_id"])
        for oid in ids:
            doc = coll.find_one({"_id": oid})
            proba = float(model["booster"].inplace_predict(encode(doc["features"], model["features"]))[0])
            coll.update_one({"_id": oid}, {"$set": {"status": "processed", "scoreProbability": proba}})
    else:
        batch_ids = []
        for start in range(0, total, 1000):
            batch = str(ObjectId())
            batch_ids.append(batch)
            coll.insert_many([{"_id": ObjectId(), "aid": st.aid, "features": features[i % len(features)],
                               "status": "queued", "batch": batch} for i in range(start, min(total, start + 1000))])
        for batch in batch_ids:
            docs = list(coll.find({"batch": batch, "status": "queued"}, {"features": 1}))
            rows = np.vstack([encode(d["features"], model["features"]) for d in docs])
            proba = model["booster"].inplace_predict(rows)
            coll.bulk_write([UpdateOne({"_id": d["_id"]}, {"$set": {"status": "processed",
                                                                    "scoreProbability": float(p)}})
                             for d, p in zip(docs, proba)], ordered=False)
    elapsed = time.perf_counter() - started
    processed = coll.count_documents({"status": "processed"})
    return {"mode": mode, "reports": total, "processed": processed, "seconds": round(elapsed, 2),
            "reports_per_s": round(processed / elapsed, 1)}


def run(st, port, total, floor_total, single_total=None, worker_counts=(1, 2), modes=("single", "bulk"), log=print):
    runs, floors, per_s = [], {}, {}
    for mode in modes:
        mode_total = single_total if mode == "single" and single_total else total
        floors[mode] = floor_run(st, mode, min(mode_total, floor_total))
        log(f"  e2e floor {mode}: {floors[mode]['reports_per_s']} reports/s")
        for workers in worker_counts:
            result = product_run(st, port, mode, workers, mode_total)
            result["ratio_to_floor"] = round(result["reports_per_s"] / floors[mode]["reports_per_s"], 3)
            runs.append(result)
            per_s[f"{mode}_{workers}_worker{'s' if workers > 1 else ''}"] = result["reports_per_s"]
            log(f"  e2e {mode} x{workers} worker(s): {result['reports_per_s']} reports/s "
                f"({result['processed']}/{result['accepted']} in {result['seconds']} s)")
    reset_reports(st)
    return {"reports_per_s": per_s, "runs": runs, "floor": floors}
