"""Item 4: the scoring job in one process against raw ``inplace_predict`` on the same rows and model,
and where the job's time goes.

The job (``maiascore.reports.batch_lane.score_batch``) is called directly, as the worker calls
it, on batches the product's own service created. Its parts are timed by wrapping the
functions it calls (MongoDB round trips, feature building, prediction, SHAP), so the
breakdown adds up to the job's wall time. The queue's own cost per job (RQ dequeue,
bookkeeping, heartbeat) is measured separately in a real worker with no-op jobs.
"""
import cProfile
import io
import pstats
import time
from collections import defaultdict
from contextlib import contextmanager


def noop(*args):
    """The job used to measure the queue's cost per job."""
    return None


class Timers:
    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)
        self.active = []

    def wrap(self, owner, name, label, classify=None):
        original = getattr(owner, name)
        timers = self

        def timed(*args, **kwargs):
            tag = classify(args, kwargs) if classify else label
            if timers.active:  # nested: the outer label already counts this time
                return original(*args, **kwargs)
            timers.active.append(tag)
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timers.seconds[tag] += time.perf_counter() - started
                timers.calls[tag] += 1
                timers.active.pop()

        setattr(owner, name, timed)
        return owner, name, original


@contextmanager
def instrumented():
    """Wraps the job's collaborators; restores them on exit."""
    import xgboost as xgb
    from pymongo.synchronous.collection import Collection
    from pymongo.synchronous.cursor import Cursor

    import maiascore.modeling.scoring as model_scoring
    from maiascore.reports import batch_lane, scoring, single_lane

    timers = Timers()
    patches = [
        timers.wrap(batch_lane, "_claim", "mongo: claim batch (find_one_and_update)"),
        timers.wrap(batch_lane, "_renew_lease", "mongo: renew lease"),
        timers.wrap(batch_lane, "_finish", "mongo+redis: finish batch and publish"),
        timers.wrap(scoring, "scoring_model", "model cache lookup / load from GridFS"),
        timers.wrap(batch_lane, "active_model_for_scoring", "active model lookup (Redis mark; MongoDB when it moved)"),
        timers.wrap(single_lane, "active_model_for_scoring", "active model lookup (Redis mark; MongoDB when it moved)"),
        timers.wrap(Cursor, "_refresh", "mongo: read reports (find by batch)"),
        timers.wrap(Collection, "bulk_write", "mongo: write results (bulk_write)"),
        timers.wrap(Collection, "find_one", "mongo: active model lookup (find_one)"),
        timers.wrap(model_scoring, "build_matrix", "features: build_matrix"),
        timers.wrap(model_scoring, "to_dmatrix", "features: DMatrix"),
        timers.wrap(xgb.Booster, "predict", "xgboost predict",
                    classify=lambda a, k: "xgboost SHAP (pred_contribs)" if k.get("pred_contribs")
                    else "xgboost predict"),
    ]
    try:
        yield timers
    finally:
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)


def create_batches(st, count, size):
    """``count`` batches of ``size`` reports through the product's service (no worker running)."""
    from maiascore.accounts.permissions import permissions_of
    from maiascore.accounts.service import role_in
    from maiascore.reports import service

    from bench.data import reference_features

    features = reference_features()
    caller = service.Caller(user=st.user, aid=st.aid, permissions=frozenset(permissions_of(role_in(st.user, st.aid))),
                            is_admin=True)
    batch_ids = []
    for n in range(count):
        if size == 1:
            doc, _ = service.create_report({"referenceId": f"p{n}", "features": features[n % len(features)]}, caller)
            batch_ids.append(doc["batch"])
        else:
            items = [{"referenceId": f"p{n}-{i}", "features": features[i % len(features)]} for i in range(size)]
            service.create_reports(items, caller)
    if size != 1:
        batch_ids = [b["_id"] for b in st.db().score_batches.find({"aid": st.aid, "status": "queued"}, {"_id": 1})]
    st.flush_queues()  # the jobs are run by hand below, not by a worker
    return batch_ids


def raw_predict_seconds(st, batch_ids, repeat=5):
    """Best-of-``repeat`` raw ``inplace_predict`` on the same rows, already a float matrix, same model."""
    from maiascore.reports.scoring import scoring_model
    from maiascore.modeling import build_matrix
    from maiascore.trainings.registry import active_model

    model = scoring_model(st.aid, active_model(st.aid))
    docs = list(st.db().score_reports.find({"batch": {"$in": batch_ids}}, {"features": 1}))
    matrix = build_matrix(model.schema, [d["features"] for d in docs]).values
    booster = model.booster
    booster.inplace_predict(matrix)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        booster.inplace_predict(matrix)
        best = min(best, time.perf_counter() - started)
    score_only = float("inf")
    records = [d["features"] for d in docs]
    for _ in range(max(1, repeat // 2)):
        started = time.perf_counter()
        model.score(records)
        score_only = min(score_only, time.perf_counter() - started)
    return best, score_only, len(docs)


def profile_jobs(st, batch_ids):
    """Runs the job on every batch, instrumented; returns (wall seconds, breakdown, cProfile top)."""
    from maiascore.reports.batch_lane import score_batch

    profiler = cProfile.Profile()
    with instrumented() as timers:
        started = time.perf_counter()
        profiler.enable()
        for batch_id in batch_ids:
            score_batch(batch_id)
        profiler.disable()
        wall = time.perf_counter() - started
    breakdown = {label: round(seconds, 4) for label, seconds in
                 sorted(timers.seconds.items(), key=lambda item: -item[1])}
    breakdown["other python in the job (result objects, explanations, warnings)"] = round(
        wall - sum(timers.seconds.values()), 4)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    return wall, breakdown, out.getvalue()


def profile_drains(st, count):
    """The single-report path as a worker runs it: one report queued, then ``drain_group`` scores it;
    ``count`` times. Returns (wall seconds of the drains alone, breakdown, cProfile top)."""
    from maiascore.reports.single_lane import drain_group

    profiler = cProfile.Profile()
    wall = 0.0
    merged = defaultdict(float)
    for _ in range(count):
        create_batches(st, 1, 1)
        with instrumented() as timers:
            started = time.perf_counter()
            profiler.enable()
            drain_group(st.aid)
            profiler.disable()
            wall += time.perf_counter() - started
        for label, seconds in timers.seconds.items():
            merged[label] += seconds
    breakdown = {label: round(seconds, 4) for label, seconds in sorted(merged.items(), key=lambda item: -item[1])}
    breakdown["other (Redis lease, result objects, explanations)"] = round(wall - sum(merged.values()), 4)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    return wall, breakdown, out.getvalue()


def queue_overhead(st, jobs=300):
    """Seconds per job a real worker spends around a no-op job (dequeue, bookkeeping, result)."""
    from rq import Queue
    from rq.job import Job

    from maiascore.queue import queue_name

    st.flush_queues()
    q = Queue(queue_name("scores"), connection=st.redis_client())
    started = time.perf_counter()
    ids = [q.enqueue(noop, job_timeout=60, result_ttl=3600).id for _ in range(jobs)]
    enqueue_seconds = (time.perf_counter() - started) / jobs
    from bench.http_scenarios import wait_for

    worker = st.worker(queues=("scores",), scheduler=False, name="noop-worker")
    done = wait_for(lambda: q.count == 0 and len(q.started_job_registry) == 0 and
                    len(q.finished_job_registry) >= jobs, 300, 0.2)
    fetched = Job.fetch_many(ids, connection=st.redis_client())
    st.stop(worker)
    starts = [j.started_at for j in fetched if j and j.started_at]
    ends = [j.ended_at for j in fetched if j and j.ended_at]
    if not done or not starts or not ends:
        return {"error": "no-op jobs did not finish"}
    span = (max(ends) - min(starts)).total_seconds()
    inside = sum((j.ended_at - j.started_at).total_seconds() for j in fetched if j and j.ended_at and j.started_at)
    st.flush_queues()
    return {"jobs": jobs, "enqueue_ms": round(enqueue_seconds * 1000, 3),
            "worker_ms_per_job": round(span / max(1, len(ends) - 1) * 1000, 3),
            "inside_job_ms": round(inside / len(ends) * 1000, 3)}


def run(st, bulk_size=1000, bulk_batches=3, singles=200, log=print):
    from bench.http_scenarios import reset_reports
    from maiascore.reports import batch_lane, scoring

    reset_reports(st)
    scoring._models.clear()
    out = {}
    # Cold: the first job of a worker loads the model from GridFS.
    cold_ids = create_batches(st, 1, 1)
    cold_started = time.perf_counter()
    batch_lane.score_batch(cold_ids[0])
    out["first_job_cold_ms"] = round((time.perf_counter() - cold_started) * 1000, 2)

    bulk_ids = create_batches(st, bulk_batches, bulk_size)
    wall, breakdown, top = profile_jobs(st, bulk_ids)
    rows = bulk_batches * bulk_size
    xgb_seconds, score_only, scored_rows = raw_predict_seconds(st, bulk_ids)
    out["bulk"] = {
        "reports": rows, "batches": len(bulk_ids), "job_seconds": round(wall, 4),
        "job_ms_per_report": round(wall / rows * 1000, 4),
        "xgboost_inplace_predict_seconds": round(xgb_seconds, 5),
        "model_score_seconds": round(score_only, 4),
        "ratio": round(wall / xgb_seconds, 1),
        "model_score_ratio": round(score_only / xgb_seconds, 1),
        "breakdown_seconds": breakdown,
        "breakdown_share": {k: round(v / wall, 3) for k, v in breakdown.items()},
        "cprofile_top": top,
    }
    log(f"  bulk job: {out['bulk']['job_ms_per_report']} ms/report, {out['bulk']['ratio']}x raw inplace_predict")

    wall1, breakdown1, top1 = profile_drains(st, singles)
    single_ids = [d["batch"] for d in st.db().score_reports.find({"aid": st.aid, "lane": "single"}, {"batch": 1})]
    xgb1 = 0.0
    for batch_id in single_ids[:50]:
        x, _, _ = raw_predict_seconds(st, [batch_id], repeat=3)
        xgb1 += x
    xgb1 = xgb1 / min(50, len(single_ids)) * len(single_ids)
    out["single"] = {
        "reports": singles, "job_seconds": round(wall1, 4), "job_ms_per_report": round(wall1 / singles * 1000, 3),
        "xgboost_inplace_predict_seconds": round(xgb1, 5), "ratio": round(wall1 / xgb1, 1),
        "breakdown_seconds": breakdown1,
        "breakdown_share": {k: round(v / wall1, 3) for k, v in breakdown1.items()},
        "cprofile_top": top1,
    }
    log(f"  single-report job: {out['single']['job_ms_per_report']} ms/report, {out['single']['ratio']}x raw")
    out["queue_overhead"] = queue_overhead(st)
    log(f"  queue: {out['queue_overhead']}")
    out["ratio"] = out["bulk"]["ratio"]
    reset_reports(st)
    return out

