"""Where a ``POST /reports`` spends its time, in one process (Flask test client, same app and servers).

Complements item 1: gunicorn numbers say how much slower than the floor the route is,
this says why. Each collaborator of the route is timed by wrapping it; the rest is
Flask, flask-smorest, body parsing, content negotiation and the request log.
"""
import cProfile
import io
import json
import pstats
import time

from bench.worker_profile import Timers


def run(st, requests=300):
    from pymongo.synchronous.collection import Collection

    import maiascore.auth.access as access
    import maiascore.reports.routes as routes
    import maiascore.reports.service as service
    from bench.http_scenarios import post_bodies
    from maiascore.app import create_app
    from maiascore.reports import batch_lane, single_lane

    app = create_app()
    client = app.test_client()
    headers = {k: v for k, v in st.headers.items() if k != "Content-Type"}
    bodies = [json.dumps(b) for b in post_bodies(requests, prefix="wp")]
    client.post("/reports", data=bodies[0], headers=headers, content_type="application/json")

    timers = Timers()
    targets = [
        (access, "_login", "auth: token -> user (cached per process; MongoDB on a miss)"),
        (access, "_count_request", "rate limit and revocation check (one Redis script call)"),
        (service, "load_input", "validation (marshmallow)"),
        (batch_lane, "insert_batches", "mongo: insert batch document"),
        (single_lane, "claim_request", "redis: drain request (one script call)"),
        (batch_lane, "enqueue_batch", "redis: RQ enqueue"),
        (Collection, "insert_one", "mongo: insert report"),
        (service, "present_many", "presenting the report"),
        (getattr(routes, "_report_schema", None), "dump", "serialising (marshmallow dump)"),
    ]
    # The product changes under the benchmark: time what exists, name what does not.
    patches = [timers.wrap(owner, name, label) for owner, name, label in targets
               if owner is not None and hasattr(owner, name)]
    import logging
    import os

    handlers = [h for h in logging.getLogger("maiascore").handlers if getattr(h, "_maiascore", False)]
    devnull = open(os.devnull, "w")
    streams = [h.setStream(devnull) for h in handlers]  # the log lines are still formatted and written
    profiler = cProfile.Profile()
    try:
        started = time.perf_counter()
        profiler.enable()
        for body in bodies:
            response = client.post("/reports", data=body, headers=headers, content_type="application/json")
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
        profiler.disable()
        wall = time.perf_counter() - started
    finally:
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)
        for handler, stream in zip(handlers, streams):
            handler.setStream(stream)
        devnull.close()
    per_request = {label: round(seconds / requests * 1000, 3) for label, seconds in
                   sorted(timers.seconds.items(), key=lambda item: -item[1])}
    per_request["other: Flask, flask-smorest, body parsing, negotiation, request log"] = round(
        (wall - sum(timers.seconds.values())) / requests * 1000, 3)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    return {"requests": requests, "ms_per_request": round(wall / requests * 1000, 3),
            "breakdown_ms_per_request": per_request, "cprofile_top": out.getvalue()}
