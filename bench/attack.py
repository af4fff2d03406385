"""Item 10: ``/healthz`` while one tenant waits behind its own big bulk.

The scenario: one client posts a 10,000-report bulk; once it is answered, three clients of the
same group hold ``GET /reports/{id}?wait=30`` on reports at the end of that bulk while two
workers score it; from just before the bulk until twice the measurement time, ``/healthz`` is
called by one client in a loop. The floor is the same ``/healthz`` loop on the same idle stack,
measured just before, so the ratio is what the attack costs everybody else.
"""
import json
import threading
import time
import urllib.request

from bench.data import reference_features
from bench.http_scenarios import load, reset_reports, wait_workers
from bench.stack import SCORING

WAITERS = 3


def _call(port, method, path, headers, body=None, timeout=120):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                     headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read()


def run(st, api_port, duration, total=10_000, log=print):
    reset_reports(st)
    for _ in range(2):
        st.worker(queues=SCORING)
    wait_workers(st, 2)
    healthz = [{"method": "GET", "path": "/healthz"}]
    idle = load(api_port, healthz, 1, duration)

    features = reference_features()
    items = [{"referenceId": f"attack{i}", "features": features[i % len(features)],
              "uuid": f"attack-{i}"} for i in range(total)]
    headers = {**st.headers, "Content-Type": "application/json"}
    posted = {}

    def post_bulk():
        started = time.perf_counter()
        posted["status"], body = _call(api_port, "POST", "/reports", headers, json.dumps(items).encode())
        posted["seconds"] = round(time.perf_counter() - started, 2)
        posted["ids"] = [item["id"] for item in json.loads(body)["reports"]][-WAITERS:]

    attacked = {}
    probe = threading.Thread(target=lambda: attacked.update(load(api_port, healthz, 1, 2 * duration, warmup=0)))
    probe.start()  # /healthz from before the bulk arrives until well after the waits began
    post_bulk()  # the waiters' ids are known once the bulk answers; the bulk's scoring is still ahead
    waits = []

    def wait_on(report_id):
        started = time.perf_counter()
        status, _ = _call(api_port, "GET", f"/reports/{report_id}?wait=30", st.headers)
        waits.append({"status": status, "seconds": round(time.perf_counter() - started, 2)})

    waiters = [threading.Thread(target=wait_on, args=(report_id,)) for report_id in posted["ids"]]
    for thread in waiters:
        thread.start()
    probe.join()
    for thread in waiters:
        thread.join()
    st.stop_workers()
    result = {
        "bulk": {"reports": total, "status": posted["status"], "seconds": posted["seconds"]},
        "waits": waits, "healthz_idle": idle, "healthz_under_attack": attacked,
        "p99_ratio_to_idle": round(attacked["p99_ms"] / idle["p99_ms"], 2) if idle["p99_ms"] else None,
    }
    log(f"  /healthz p50/p99 idle {idle['p50_ms']}/{idle['p99_ms']} ms, under attack "
        f"{attacked['p50_ms']}/{attacked['p99_ms']} ms; bulk {posted['seconds']} s; waits {waits}")
    reset_reports(st)
    return result
