"""Items 1, 2, 3 and 6 of the benchmark: HTTP load against the product and its floor.

Product and floor runs alternate at every concurrency level, so a neighbour's burst on
the shared machine hits both sides of a ratio alike.
"""
import json
import time

from bench.data import reference_features
from bench.stack import run_python


def load(port, requests, connections, duration=None, total=None, warmup=1.0, keep_bodies=False):
    spec = {"port": port, "connections": connections, "requests": requests,
            "warmup": warmup if duration is not None else 0, "keep_bodies": keep_bodies}
    if duration is not None:
        spec["duration"] = duration
    else:
        spec["total"] = total
    done = run_python("bench.loadgen", input_text=json.dumps(spec),
                      timeout=(duration or 0) + warmup + 900)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    if not keep_bodies:
        result.pop("bodies", None)
    return result


def compare(product_port, product_requests, floor_port, floor_requests, levels, duration, measure=None):
    """Product vs floor at each concurrency level; ``ratio_to_floor`` = product req/s / floor req/s.
    ``measure(side, run)``: runs ``run`` (a load) and adds to its result what it measured around it
    (``side`` is "product" or "floor")."""
    measure = measure or (lambda side, run: run())
    by_level = {}
    for connections in levels:
        product = measure("product", lambda: load(product_port, product_requests, connections, duration))
        floor = measure("floor", lambda: load(floor_port, floor_requests, connections, duration))
        by_level[str(connections)] = {
            "product": product,
            "floor": floor,
            "ratio_to_floor": _ratio(product["rps"], floor["rps"]),
            "p50_ratio_to_floor": _ratio(product["p50_ms"], floor["p50_ms"]),
            "p99_ratio_to_floor": _ratio(product["p99_ms"], floor["p99_ms"]),
        }
    ratios = [level["ratio_to_floor"] for level in by_level.values() if level["ratio_to_floor"]]
    return {"ratio_to_floor": round(sum(ratios) / len(ratios), 3) if ratios else None, "by_connections": by_level}


def ratio(a, b):
    return round(a / b, 3) if a and b else None


_ratio = ratio


def post_bodies(count=1000, prefix="b"):
    features = reference_features()
    return [{"referenceId": f"{prefix}{i}", "features": features[i % len(features)]} for i in range(count)]


def post_requests(headers, path="/reports", prefix="b"):
    return [{"method": "POST", "path": path, "headers": headers, "body": json.dumps(body)}
            for body in post_bodies(prefix=prefix)]


def bulk_requests(headers, total, size=1000, prefix="bulk"):
    features = reference_features()
    out = []
    for start in range(0, total, size):
        items = [{"referenceId": f"{prefix}{i}", "features": features[i % len(features)]}
                 for i in range(start, min(total, start + size))]
        out.append({"method": "POST", "path": "/reports", "headers": headers, "body": json.dumps(items)})
    return out


def wait_for(predicate, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def drain(db, aid, expected, timeout=900):
    """Waits until ``expected`` reports of the group are settled; returns the count seen."""
    return wait_for(lambda: db.score_reports.count_documents({"aid": aid, "status": "processed"}) >= expected,
                    timeout, interval=1.0)


def quiesce(st, timeout=600):
    """Until the workers have scored every queued report of the group: a run starts with no backlog
    from the previous one (whose scoring would otherwise be counted against it)."""
    db = st.db()
    drained = wait_for(lambda: db.score_reports.find_one({"aid": st.aid, "status": "queued"}, {"_id": 1}) is None,
                       timeout, interval=0.5)
    return drained and database_idle(st)


def reset_reports(st):
    """Empties the report collections (drop + indexes: faster than deleting on this server) and Redis."""
    from maiascore.indexes import INDEXES

    db = st.db()
    for name in ("score_reports", "score_batches", "floor_reports"):
        db.drop_collection(name)
    for name in ("score_reports", "score_batches"):
        db[name].create_indexes(INDEXES[name])
    db.floor_reports.create_indexes(INDEXES["score_reports"])
    st.flush_queues()
    database_idle(st)


def database_idle(st, busy=0.1, timeout=60):
    """Until the database process is idle (under ``busy`` of a core over half a second): the embedded
    server purges a dropped collection in the background, which would be counted against the next run."""
    from bench.stack import cpu_seconds

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(st.mongo)
        time.sleep(0.5)
        if cpu_seconds(st.mongo) - before < busy * 0.5:
            return True
    return False


def wait_workers(st, count, timeout=60):
    from rq import Worker

    return wait_for(lambda: len(Worker.all(connection=st.redis_client())) >= count, timeout, 0.2)
