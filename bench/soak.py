"""``make soak``: steady mixed traffic while workers are SIGKILLed and Redis is restarted.

Five minutes by default (``SOAK_SECONDS``), ``SOAK_RATE`` requests a second (default 10),
only to 127.0.0.1, against a stack of our own (its own redis-server, so restarting it
harms nobody). Timeline, as fractions of the run: a worker is SIGKILLed at 25% and a new
one started 2 s later; again at 50%; Redis is stopped at 70% and started again (empty)
3 s later. Then the run waits for every accepted report to be scored and checks, from
MongoDB:

- every report the API accepted (answered 200 with an id) is stored, ``processed``, and
  was scored exactly once (``scoringRuns == 1``); so is every stored report;
- no 5xx answer other than 503, and 503 only while Redis was down (plus 10 s);
- the API's RSS (gunicorn master + workers) and the workers' RSS at the end are within
  20% of their level after warm-up.

Prints a summary, writes ``bench/results/soak-latest.json``, exits 1 if any check fails.
Recovery settings for the run (product settings, see the README): sweeps every 5 s,
grace 5 s, scoring lease 15 s, so a killed worker's batch is re-run within the run.
"""
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.data import reference_features
from bench.report import RESULTS, machine_info
from bench.stack import ROOT, Stack, kill9, rss_mb

RSS_TOLERANCE = 0.20
REDIS_GRACE_SECONDS = 10
SOAK_ENV = {"SWEEP_INTERVAL_SECONDS": "5", "SWEEP_GRACE_SECONDS": "5", "SCORING_LEASE_SECONDS": "15"}


def log(message):
    print(message, flush=True)


def get_json(port, path, headers):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def widget_paths(port, headers):
    """Data URLs of the built-in scoring dashboard's widgets."""
    reports = get_json(port, "/v6/reports", headers)
    items = reports.get("reports", reports) if isinstance(reports, dict) else reports
    overview = next((r for r in items if r.get("title") == "Scoring overview"), None)
    if overview is None:
        return []
    report_id = overview["reportId"]
    return [f"/v6/reports/{report_id}/{widget}?window={window}"
            for widget, window in (("sotot", "1d"), ("sorph", "1h"), ("sopvf", "1d"), ("solat", "1h"))]


class Sampler:
    def __init__(self, st, api):
        self.st, self.api, self.samples = st, api, []

    def sample(self, now):
        workers = [rss_mb(w) for w in self.st.workers]
        self.samples.append({"t": round(now, 1), "api_mb": rss_mb(self.api),
                             "workers_mb": round(sum(w for w in workers if w) / max(1, len(workers)), 1)})

    def level(self, start, end, key):
        values = [s[key] for s in self.samples if start <= s["t"] <= end and s[key]]
        return round(statistics.median(values), 1) if values else None


def run_traffic(spec, log_dir):
    """The traffic process; its JSON summary goes to a file so a full pipe never blocks it."""
    with open(log_dir / "traffic.json", "w") as out, open(log_dir / "traffic.err", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bench.soak_traffic"], stdin=subprocess.PIPE,
                                stdout=out, stderr=err, text=True, cwd=ROOT)
    proc.stdin.write(json.dumps(spec))
    proc.stdin.close()
    return proc


def verify(db, aid, accepted_ids):
    from bson import ObjectId

    stored = {d["_id"]: d for d in db.score_reports.find({"aid": aid}, {"status": 1, "scoringRuns": 1})}
    accepted = {ObjectId(i) for i in accepted_ids}
    missing = [str(i) for i in accepted if i not in stored]
    not_processed = [str(i) for i, d in stored.items() if d.get("status") != "processed"]
    not_once = [f"{i}:{d.get('scoringRuns')}" for i, d in stored.items()
                if d.get("status") == "processed" and d.get("scoringRuns") != 1]
    return {"accepted": len(accepted), "stored": len(stored), "missing": missing[:20], "missing_count": len(missing),
            "not_processed_count": len(not_processed), "not_processed": not_processed[:20],
            "not_exactly_once_count": len(not_once), "not_exactly_once": not_once[:20]}


def supervise(st, started, summary):
    """Restarts a worker that exited by itself, as a process supervisor would, and records it."""
    for child in list(st.workers):
        code = child.proc.poll()
        if code is not None:
            st.stop(child)
            replacement = st.worker()
            at = round(time.time() - started, 1)
            summary["self_exits"].append({"at": at, "pid": child.proc.pid, "returncode": code})
            summary["events"].append({"at": at, "event": f"worker {child.proc.pid} exited by itself ({code}); "
                                                         f"supervisor started {replacement.proc.pid}"})
            log(f"  {at:6.1f} s  worker {child.proc.pid} exited by itself ({code}); restarted")


def pending(db, aid):
    return db.score_reports.count_documents({"aid": aid, "status": {"$ne": "processed"}})


def main():
    seconds = float(os.environ.get("SOAK_SECONDS", 300))
    rate = float(os.environ.get("SOAK_RATE", 10))
    warmup = min(30.0, seconds * 0.1)
    plan = [(0.25, "kill-worker"), (0.50, "kill-worker"), (0.70, "restart-redis")]
    summary = {"machine": machine_info(), "seconds": seconds, "rate": rate, "warmup_seconds": warmup,
               "settings": SOAK_ENV, "events": [], "self_exits": []}
    with Stack("soak", extra_env=SOAK_ENV) as st:
        log(f"* soak: {seconds:.0f} s at {rate:.0f} req/s; logs in {st.log_dir}")
        st.setup_tenant()
        st.install_model()
        port, api = st.web()
        st.worker()
        st.worker()
        headers = st.headers
        spec = {"port": port, "headers": headers, "features": reference_features()[:200], "rate": rate,
                "seconds": seconds, "widgets": widget_paths(port, headers), "bulk_size": 20,
                "accepted_path": str(st.log_dir / "accepted.txt")}
        traffic = run_traffic(spec, st.log_dir)
        started = time.time()
        sampler = Sampler(st, api)
        redis_window = None
        next_sample = 0.0
        while traffic.poll() is None:
            elapsed = time.time() - started
            if plan and elapsed >= plan[0][0] * seconds:
                _, action = plan.pop(0)
                if action == "kill-worker":
                    victim = st.workers[0]
                    kill9(victim)
                    st.stop(victim)
                    summary["events"].append({"at": round(elapsed, 1), "event": f"SIGKILL worker {victim.proc.pid}"})
                    log(f"  {elapsed:6.1f} s  SIGKILL worker {victim.proc.pid}")
                    time.sleep(2)
                    replacement = st.worker()
                    summary["events"].append({"at": round(time.time() - started, 1),
                                              "event": f"started worker {replacement.proc.pid}"})
                else:
                    down_at = time.time()
                    log(f"  {elapsed:6.1f} s  restarting Redis (3 s down)")
                    st.restart_redis(down_seconds=3)
                    up_at = time.time()
                    redis_window = (down_at, up_at + REDIS_GRACE_SECONDS)
                    summary["events"].append({"at": round(down_at - started, 1), "event": "redis stopped"})
                    summary["events"].append({"at": round(up_at - started, 1), "event": "redis started (empty)"})
            supervise(st, started, summary)
            if elapsed >= next_sample:
                sampler.sample(elapsed)
                next_sample = elapsed + 2.0
            time.sleep(0.2)
        if traffic.returncode != 0:
            log((st.log_dir / "traffic.err").read_text()[-3000:])
            return 2
        result = json.loads((st.log_dir / "traffic.json").read_text())
        traffic_end = time.time() - started
        accepted_ids = [line.strip() for line in Path(spec["accepted_path"]).read_text().splitlines() if line.strip()]

        db = st.db()
        drain_started = time.time()
        deadline = drain_started + 300
        while pending(db, st.aid) and time.time() < deadline:
            supervise(st, started, summary)
            time.sleep(2)
        summary["drain_seconds"] = round(time.time() - drain_started, 1)
        checks = verify(db, st.aid, set(accepted_ids))

        unexpected = [e for e in result["server_errors"]
                      if e["status"] != 503 or redis_window is None
                      or not redis_window[0] <= e["at"] <= redis_window[1]]
        base_from, base_to = warmup, warmup + max(10.0, seconds * 0.1)
        end_from = traffic_end - max(10.0, seconds * 0.15)
        rss = {}
        for key in ("api_mb", "workers_mb"):
            base, end = sampler.level(base_from, base_to, key), sampler.level(end_from, traffic_end, key)
            rss[key] = {"after_warmup": base, "at_end": end,
                        "growth": round(end / base - 1, 3) if base and end else None}
        summary.update(traffic=result, verification=checks, rss=rss, rss_samples=sampler.samples,
                       unexpected_5xx=unexpected[:20], unexpected_5xx_count=len(unexpected),
                       served_503=result["statuses"].get("503", 0))
    failures = []
    if checks["missing_count"]:
        failures.append(f"{checks['missing_count']} accepted reports are missing")
    if checks["not_processed_count"]:
        failures.append(f"{checks['not_processed_count']} reports not processed after the drain")
    if checks["not_exactly_once_count"]:
        failures.append(f"{checks['not_exactly_once_count']} reports scored more than once")
    if unexpected:
        failures.append(f"{len(unexpected)} unexpected 5xx answers")
    for key, values in rss.items():
        if values["growth"] is not None and values["growth"] > RSS_TOLERANCE:
            failures.append(f"{key} grew {values['growth']:.0%} after warm-up")
    if summary["self_exits"]:
        failures.append(f"{len(summary['self_exits'])} worker exit(s) not caused by the soak (see the worker logs)")
    if checks["accepted"] == 0:
        failures.append("no report was accepted at all")
    summary["failures"] = failures
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak-latest.json").write_text(json.dumps(summary, indent=2, default=str))
    print_summary(summary)
    return 1 if failures else 0


def print_summary(s):
    t = s["traffic"]
    v = s["verification"]
    print()
    print(f"soak: {t['seconds']} s, {t['sent']} requests sent ({t['skipped_over_in_flight_limit']} skipped: "
          f"too many in flight), statuses {t['statuses']}, client errors {t['client_errors'] or 'none'}")
    for event in s["events"]:
        print(f"  {event['at']:7.1f} s  {event['event']}")
    print(f"accepted reports: {v['accepted']}, stored: {v['stored']}, missing: {v['missing_count']}, "
          f"not processed: {v['not_processed_count']}, scored more than once: {v['not_exactly_once_count']} "
          f"(drained in {s['drain_seconds']} s after the traffic stopped)")
    print(f"503 during the Redis restart: {s['served_503']}; unexpected 5xx: {s['unexpected_5xx_count']}")
    for key, values in s["rss"].items():
        print(f"RSS {key}: after warm-up {values['after_warmup']} MB, at the end {values['at_end']} MB "
              f"({'-' if values['growth'] is None else format(values['growth'], '+.1%')})")
    if t["skipped_over_in_flight_limit"]:
        print(f"note: {t['skipped_over_in_flight_limit']} planned requests were not sent because "
              f"64 were already in flight: the stack did not keep up with SOAK_RATE={s['rate']:.0f}")
    print("PASS" if not s["failures"] else "FAIL: " + "; ".join(s["failures"]))


if __name__ == "__main__":
    sys.exit(main())
