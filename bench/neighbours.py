"""Noisy neighbours: what one account group's load costs another group's requests, and stalls after a burst.

A stack of its own with the web tier's default settings (gunicorn as ``make run`` starts it, the
default ``MAX_WAITS_PER_GROUP``; only the rate limit is lifted so that the measuring loops are not
throttled). The victim is group A: ``GET /reports?_limit=10`` with its token and ``/healthz``,
one client each in a loop, measured idle and then under each attack:

- waits: three groups each hold ``MAX_WAITS_PER_GROUP`` ``GET /reports/{id}?wait=30`` while the
  scoring worker is paused (SIGSTOP), so every wait stays open;
- heavy reads: for four times the measurement (40 s by default), a Read Only token of group B (about
  20,000 reports) runs four loops of contains filters, a ``uuid_ncontains`` filter sorted by score,
  and 93-day Box and Whiskers widget data.

The stall check, with a scoring worker running as under ``make run``: a 32-connection ``wrk`` run of
plain ``POST /reports`` (the asyncio load generator when wrk is not installed), then at once three
single POSTs on new connections; their latency against an idle single POST.
"""
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

from bench.data import reference_features
from bench.http_scenarios import load, wait_for, wait_workers
from bench.stack import SCORING, Stack
from config import Config
from maiascore.accounts.permissions import ROLE_IDS
from maiascore.accounts.service import create_account_group, create_user
from maiascore.auth.service import create_api_token

WAIT = 30
HEAVY_REPORTS = 20_000
BURST_CONNECTIONS = 32
STALL_ROUNDS = 3


def _call(port, method, path, headers=None, body=None, timeout=60):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                     headers=headers or {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, data = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, data = error.code, error.read()
    except OSError as error:
        status, data = type(error).__name__, b""
    return status, data, round((time.perf_counter() - started) * 1000, 1)


def _group(name, role="Account Admin", aid=None):
    """A user with ``role`` in group ``aid`` (a new group named ``name`` when None) and an API token, through
    the product's service functions."""
    aid = aid if aid is not None else create_account_group(name)["_id"]
    tag = secrets.token_hex(4)
    user = create_user(f"n{tag}", f"n{tag}@example.com", secrets.token_urlsafe(16),
                       [{"aid": aid, "roleId": ROLE_IDS[role]}])
    _, token = create_api_token(user, "neighbours")
    return aid, {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 "Accept": "application/json"}


def _victim(port, headers, duration):
    """Group A's list and /healthz, one client each, at once."""
    runs = {}
    probes = {"list": [{"method": "GET", "path": "/reports?_limit=10", "headers": headers}],
              "healthz": [{"method": "GET", "path": "/healthz"}]}
    threads = [threading.Thread(target=lambda k=k, r=r: runs.update({k: load(port, r, 1, duration, warmup=0.5)}))
               for k, r in probes.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {name: {k: run[k] for k in ("p50_ms", "p99_ms", "requests", "statuses", "errors")}
            for name, run in runs.items()}


def _seed(st, aid, count):
    now = datetime.now(timezone.utc)
    features = reference_features()
    docs = []
    for i in range(count):
        created = now - timedelta(seconds=int(i * 92 * 86400 / count))
        docs.append({"aid": aid, "uuid": f"seed-{i:06d}", "referenceId": f"ref-{i:06d}", "type": "reference",
                     "features": features[i % len(features)], "status": "processed", "processed": True,
                     "score": 300 + (i * 7919) % 550, "scoreVersion": "1", "outcome": None, "batch": "seed",
                     "created_at": created, "updated_at": created, "published_at": created,
                     "processed_at": created})
    for start in range(0, count, 5000):
        st.db().score_reports.insert_many(docs[start:start + 5000])


def _waits_attack(st, port, victim_headers, duration, cap):
    worker = st.worker(queues=SCORING)
    wait_workers(st, 1)
    os.killpg(worker.pgid, signal.SIGSTOP)  # every report stays queued: every wait lasts its 30 s
    answers, threads = [], []
    try:
        for n in range(3):
            _, headers = _group(f"Waiters {n}", "Regular User")
            status, body, _ = _call(port, "POST", "/reports", headers, json.dumps({"referenceId": "parked"}).encode())
            report_id = json.loads(body)["id"]
            for _ in range(cap):
                threads.append(threading.Thread(target=lambda h=headers, r=report_id: answers.append(
                    _call(port, "GET", f"/reports/{r}?wait={WAIT}", h, timeout=WAIT + 60)[0])))
        for thread in threads:
            thread.start()
        def parked():
            return sum(st.redis_client().zcard(key) for key in st.redis_client().keys("*:waits:*"))

        wait_for(lambda: parked() >= 3 * cap, 5, 0.1)  # a server that cannot park them all measures as it is
        measured = {"waits_open_at_start": parked()}
        measured.update(_victim(port, victim_headers, min(duration, WAIT - 10)))
        measured["waits_open_at_end"] = parked()
    finally:
        os.killpg(worker.pgid, signal.SIGCONT)
    for thread in threads:
        thread.join(WAIT + 60)
    st.stop(worker)
    measured["wait_answers"] = {str(s): answers.count(s) for s in sorted(set(answers), key=str)}
    return measured


def _heavy_attack(st, port, victim_headers, duration, reader_headers, report_id, widget_id):
    """Four loops of heavy reads, each waiting for its answer; a refused loop retries a second later."""
    paths = ["/reports?referenceId_contains=ref-0199&_limit=100",
             "/reports?uuid_ncontains=zz&_sort=score:DESC&_limit=100", f"/v6/reports/{report_id}/{widget_id}?window=93d", "/reports/count?referenceId_contains=9"]
    answers, stop = [], time.monotonic() + duration + 2

    def loop(path):
        while time.monotonic() < stop:
            status, _, ms = _call(port, "GET", path, reader_headers, timeout=120)
            answers.append((status, ms))
            if status == 429:
                time.sleep(1)

    attackers = [threading.Thread(target=loop, args=(path,)) for path in paths]
    for thread in attackers:
        thread.start()
    time.sleep(1)
    measured = _victim(port, victim_headers, duration)
    measured["seconds"] = duration
    for thread in attackers:
        thread.join()
    took = sorted(ms for _, ms in answers)
    measured["attacker"] = {"requests": len(answers), "statuses": {str(s): [a for a, _ in answers].count(s)
                                                                   for s in sorted({a for a, _ in answers}, key=str)},
                            "max_ms": took[-1] if took else None}
    return measured


def _burst(port, headers, duration):
    """32 connections of plain POST /reports: wrk when installed, else the asyncio load generator."""
    body = json.dumps({"referenceId": "burst", "features": reference_features()[0]})
    wrk = shutil.which("wrk")
    if wrk is None:
        run = load(port, [{"method": "POST", "path": "/reports", "headers": headers, "body": body}],
                   BURST_CONNECTIONS, duration, warmup=0)
        return {"tool": "loadgen", "requests": run["requests"], "statuses": run["statuses"], "errors": run["errors"]}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n')
        for key, value in headers.items():
            script.write(f'wrk.headers[{json.dumps(key)}] = {json.dumps(value)}\n')
    try:
        out = subprocess.run([wrk, "-t2", f"-c{BURST_CONNECTIONS}", f"-d{int(duration)}s", "-s", script.name,
                              f"http://127.0.0.1:{port}/reports"], capture_output=True, text=True,
                             timeout=duration + 60).stdout
    finally:
        os.unlink(script.name)
    requests = next((line.split()[0] for line in out.splitlines() if "requests in" in line), "0")
    return {"tool": "wrk", "requests": int(requests), "summary": " / ".join(
        line.strip() for line in out.splitlines() if "requests in" in line or "Socket errors" in line
        or "Non-2xx" in line)}


def _stall_check(st, port, headers, duration):
    """As under ``make run``: a scoring worker scores each burst's reports while the next POSTs come."""
    st.worker(queues=SCORING)
    wait_workers(st, 1)
    body = json.dumps({"referenceId": "after-burst"}).encode()
    idle = sorted(_call(port, "POST", "/reports", headers, body)[2] for _ in range(20))
    rounds = []
    for _ in range(STALL_ROUNDS):
        burst = _burst(port, headers, duration)
        after = [_call(port, "POST", "/reports", headers, body, timeout=30) for _ in range(3)]
        rounds.append({"burst": burst, "next_posts_ms": [ms for _, _, ms in after],
                       "next_statuses": [status for status, _, _ in after]})
    st.stop_workers()
    return {"idle_post_p50_ms": idle[len(idle) // 2], "idle_post_max_ms": idle[-1], "rounds": rounds,
            "worst_next_post_ms": max(ms for r in rounds for ms in r["next_posts_ms"])}


def run(duration=10, log=print):
    cap = Config(require_secret_key=False).MAX_WAITS_PER_GROUP
    with Stack("neighbours", extra_env={"RATE_LIMIT_PER_MINUTE": str(10**9)}) as st:
        log(f"* neighbours: stack up, logs in {st.log_dir}")
        st.setup_tenant()
        st.install_model()  # as under `make run`: the stall check's reports are scored
        victim = st.headers
        port, _ = st.web()
        heavy_aid, admin_headers = _group("Heavy")
        _seed(st, heavy_aid, HEAVY_REPORTS)
        _, reader_headers = _group("Heavy", "Read Only", aid=heavy_aid)
        status, body, _ = _call(port, "POST", "/v6/reports/create", admin_headers, json.dumps({
            "title": "Heavy", "widgets": [{"id": "box01", "type": "Box and Whiskers",
                                           "dataSource": "Score Reports", "metric": "Score"}]}).encode())
        report_id = json.loads(body)[0]["reportId"]
        for _ in range(20):
            _call(port, "GET", "/reports?_limit=10", victim)  # both web workers warm
        results = {"settings": {"MAX_WAITS_PER_GROUP": cap}}
        results["idle"] = _victim(port, victim, duration)
        log(f"  idle: {_line(results['idle'])}")
        results["under_waits"] = _waits_attack(st, port, victim, duration, cap)
        waits = results["under_waits"]
        log(f"  3 groups x {cap} waits: {_line(waits)}; waits open at start / end of the measurement: "
            f"{waits['waits_open_at_start']} / {waits['waits_open_at_end']}; their answers {waits['wait_answers']}")
        results["under_heavy_reads"] = _heavy_attack(st, port, victim, 4 * duration, reader_headers, report_id,
                                                     "box01")
        log(f"  heavy reads of group B: {_line(results['under_heavy_reads'])}; attacker "
            f"{results['under_heavy_reads']['attacker']}")
        results["stall"] = _stall_check(st, port, victim, duration)
        log(f"  stall check: idle POST p50 {results['stall']['idle_post_p50_ms']} ms; next POSTs after each "
            f"{BURST_CONNECTIONS}-connection burst: {[r['next_posts_ms'] for r in results['stall']['rounds']]} ms; "
            f"bursts: {[r['burst'].get('summary') or r['burst']['requests'] for r in results['stall']['rounds']]}")
        return results


def _line(measured):
    return ", ".join(f"{name} p50/p99 {measured[name]['p50_ms']}/{measured[name]['p99_ms']} ms"
                     for name in ("list", "healthz"))
