"""Section ``fairness``: one group's single reports while another group's bulk is being scored.

One scoring worker (the ``make run`` default). Group A's ``POST /reports?wait=10`` one at a time,
first on the idle stack (the floor), then right after group B's bulk was answered, while the
worker scores it. Printed: A's p50/p99/max waited latency in both, how many came back
``processed`` (not ``queued``), and how many of B's reports were still queued when A's last one
was answered: A did not wait for B's backlog when that number is large.
"""
import json
import secrets
import statistics
import time
import urllib.request

from bench.data import install_model, reference_features
from bench.http_scenarios import reset_reports, wait_workers
from bench.stack import SCORING

PROBES = 16


def _call(port, path, headers, body, timeout=120):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.loads(response.read())


def _other_tenant():
    """Group B: a second group with its own admin, token and active model."""
    from maiascore.accounts.service import ensure_admin
    from maiascore.auth.service import create_api_token

    user, group, _ = ensure_admin("bench-neighbour@example.com", secrets.token_urlsafe(16), group_name="Neighbour")
    _, token = create_api_token(user, "bench-fairness")
    install_model(group["_id"])
    return group["_id"], {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                          "Accept": "application/json"}


def _probe(port, headers, features, tag):
    times, processed = [], 0
    for i in range(PROBES):
        body = json.dumps({"referenceId": f"{tag}{i}", "features": features[i % len(features)]}).encode()
        started = time.perf_counter()
        status, report = _call(port, "/reports?wait=10", headers, body)
        times.append((time.perf_counter() - started) * 1000)
        processed += status == 200 and report.get("status") == "processed"
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "p99_ms": round(times[int(0.99 * (len(times) - 1))], 1),
            "max_ms": round(times[-1], 1), "processed": processed, "of": PROBES}


def run(st, api_port, total=10_000, log=print):
    reset_reports(st)
    st.worker(queues=SCORING)
    wait_workers(st, 1)
    bulk_aid, bulk_headers = _other_tenant()
    features = reference_features()
    idle = _probe(api_port, st.headers, features, "idle")

    items = [{"referenceId": f"bulk{i}", "features": features[i % len(features)]} for i in range(total)]
    status, _ = _call(api_port, "/reports", bulk_headers, json.dumps(items).encode())
    during = _probe(api_port, st.headers, features, "during")
    left = st.db().score_reports.count_documents({"aid": bulk_aid, "status": "queued"})
    result = {"bulk_reports": total, "bulk_status": status, "victim_idle": idle, "victim_during_bulk": during,
              "bulk_still_queued_after_victim": left}
    log(f"  A's ?wait=10 idle {idle}, during B's {total}-report bulk {during}; B still queued after: {left}")
    st.stop_workers()
    return result
