"""The machine a run happened on, the printed table, and ``bench/results/latest.json``."""
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import psutil

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("Flask", "flask-smorest", "marshmallow", "pymongo", "rq", "redis", "xgboost-cpu", "numpy", "gunicorn",
            "SecantusDB")


def machine_info():
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    except (OSError, IndexError):
        redis_version = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=RESULTS.parent.parent).stdout.strip() or None
    except OSError:
        commit = None
    return {
        "cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(), "python": sys.version.split()[0], "redis_server": redis_version,
        "packages": versions, "commit": commit, "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:,.1f}" if abs(value) >= 100 else f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3f}"
    return f"{value}{unit}"


def _cpu(sides):
    return " / ".join(_fmt(sides.get(name)) for name in ("web", "database", "workers"))


def rows_of(results):
    """(figure, product, floor, ratio) rows for the table."""
    rows = []
    for key, label in (("api_post_reports", "POST /reports"), ("api_get_report", "GET /reports/{id}"),
                       ("api_list_reports", "GET /reports?_limit=100"), ("wait_latency", "POST /reports?wait=30"),
                       ("bare_model_server", "POST /reports?wait=30 vs bare model server")):
        section = results.get(key)
        if not section:
            continue
        for connections, level in section["by_connections"].items():
            p, f = level["product"], level["floor"]
            rows.append((f"{label} c={connections} req/s", _fmt(p["rps"]), _fmt(f["rps"]), _fmt(level["ratio_to_floor"])))
            rows.append((f"{label} c={connections} p50 / p99 ms", f"{_fmt(p['p50_ms'])} / {_fmt(p['p99_ms'])}",
                         f"{_fmt(f['p50_ms'])} / {_fmt(f['p99_ms'])}",
                         f"{_fmt(level['p50_ratio_to_floor'])} / {_fmt(level['p99_ratio_to_floor'])}"))
            if p.get("cpu_ms_per_request") and f.get("cpu_ms_per_request"):
                rows.append((f"{label} c={connections} CPU ms per request: web / database / workers",
                             _cpu(p["cpu_ms_per_request"]), _cpu(f["cpu_ms_per_request"]), "-"))
    rows += _peer_rows(results.get("mlflow_peer"))
    attack = results.get("healthz_under_attack")
    if attack:
        idle, under = attack["healthz_idle"], attack["healthz_under_attack"]
        rows.append((f"/healthz p50 / p99 ms while a group waits behind its {attack['bulk']['reports']:,}-report bulk"
                     " (vs idle)",
                     f"{_fmt(under['p50_ms'])} / {_fmt(under['p99_ms'])}",
                     f"{_fmt(idle['p50_ms'])} / {_fmt(idle['p99_ms'])}", _fmt(attack["p99_ratio_to_idle"])))
    rows += _neighbour_rows(results.get("neighbours"))
    versus_plain = results.get("wait_vs_plain_post")
    if versus_plain:
        for connections, level in versus_plain["by_connections"].items():
            rows.append((f"?wait vs plain POST /reports c={connections} req/s", _fmt(level["wait"]["rps"]),
                         _fmt(level["plain"]["rps"]), _fmt(level["ratio"])))
            wait_cpu, plain_cpu = level["wait"].get("cpu_ms_per_request"), level["plain"].get("cpu_ms_per_request")
            if wait_cpu and plain_cpu:
                rows.append((f"?wait vs plain POST c={connections} CPU ms per request: web / database / workers",
                             _cpu(wait_cpu), _cpu(plain_cpu), "-"))
    e2e = results.get("e2e_scoring")
    if e2e:
        for run in e2e["runs"]:
            floor = e2e["floor"][run["mode"]]
            rows.append((f"e2e {run['mode']} {run['reports']:,} reports, {run['workers']} worker(s), reports/s",
                         _fmt(run["reports_per_s"]), _fmt(floor["reports_per_s"]), _fmt(run["ratio_to_floor"])))
    worker = results.get("worker_vs_xgboost")
    if worker:
        for kind in ("bulk", "single"):
            part = worker.get(kind)
            if part:
                rows.append((f"scoring job, {kind} batches: ms/report (vs inplace_predict)",
                             _fmt(part["job_ms_per_report"]),
                             _fmt(part["xgboost_inplace_predict_seconds"] * 1000 / part["reports"]),
                             f"x{_fmt(part['ratio'])}"))
        queue = worker.get("queue_overhead") or {}
        if "worker_ms_per_job" in queue:
            rows.append(("RQ worker cost per (no-op) job, ms", _fmt(queue["worker_ms_per_job"]), "-", "-"))
    training = results.get("training")
    if training:
        for size, part in training["sizes"].items():
            if "error" in part:
                rows.append((f"training {int(size):,} rows", "failed", "-", "-"))
                continue
            rows.append((f"training {int(size):,} rows: job s (vs xgboost.train)", _fmt(part["job_seconds"]),
                         _fmt(part["xgboost_train_seconds"]), f"x{_fmt(part['ratio'])}"))
            rows.append((f"training {int(size):,} rows: peak RSS MB", _fmt(part["worker_peak_rss_mb"]),
                         _fmt(part["xgboost_peak_rss_mb"]), "-"))
    run = results.get("scoring_run")
    if run and "error" not in run:
        rows.append((f"scoring run {run['rows']:,} rows to Parquet: rows/s (vs pyarrow + inplace_predict)",
                     _fmt(run["run_rows_per_s"]), _fmt(run["floor_rows_per_s"]),
                     _fmt(run["run_rows_per_s"] / run["floor_rows_per_s"])))
    elif run:
        rows.append(("scoring run", "failed", "-", "-"))
    health = results.get("monitoring")
    if health and "error" not in health:
        rows.append((f"monitoring read over {health['large_reports']:,} scored reports: ms (vs over "
                     f"{health['small_reports']:,})", _fmt(health["large_read_ms"]), _fmt(health["small_read_ms"]),
                     _fmt(health["read_ratio_large_to_small"])))
        rows.append((f"per-report read over {health['medium_reports']:,} reports: ms (vs the counters' read)",
                     _fmt(health["medium_per_report_read_ms"]), _fmt(health["medium_read_ms"]),
                     _fmt(health["medium_per_report_read_ms"] / health["medium_read_ms"])))
        rows.append(("scoring a report with a challenger: ms (vs without)", _fmt(health["score_with_challenger_ms_per_report"]),
                     _fmt(health["score_ms_per_report"]),
                     _fmt(health["score_with_challenger_ms_per_report"] / health["score_ms_per_report"])))
    elif health:
        rows.append(("monitoring", "failed", "-", "-"))
    for size, engines in (results.get("dask_training") or {}).items():
        by_engine = {line.get("engine"): line for line in engines}
        floor = by_engine.get("xgboost")
        if not floor or any("error" in line for line in engines):
            rows.append((f"training {int(size):,} rows on Dask", "failed", "-", "-"))
            continue
        for engine in ("dask", "local"):
            line = by_engine[engine]
            rows.append((f"training {int(size):,} rows, {engine} engine: s (vs xgboost.train)", _fmt(line["seconds"]),
                         _fmt(floor["seconds"]), f"x{_fmt(line['seconds'] / floor['seconds'])}"))
            rows.append((f"training {int(size):,} rows, {engine} engine: coordinator peak RSS MiB",
                         _fmt(line["peak_rss_mib"]), _fmt(floor["peak_rss_mib"]), "-"))
    return rows


def _peer_rows(peer):
    """MaiaScore's ?wait (the "product" column) against mlflow models serve (the "floor"), medians of the runs."""
    if not peer:
        return []
    if "skipped" in peer:
        return [("POST /reports?wait vs mlflow models serve", "skipped", "-", "-")]
    rows = []
    for connections, level in peer["by_connections"].items():
        label = f"{peer['maiascore_path']} vs mlflow models serve c={connections}"
        rows.append((f"{label} req/s (median of {peer['runs']})",
                     _fmt(statistics.median(r["rps"] for r in level["maiascore"])),
                     _fmt(statistics.median(r["rps"] for r in level["mlflow"])), _fmt(level["median_ratio"])))
        rows.append((f"{label} p50 ms (median of {peer['runs']})", _fmt(level["maiascore_p50_ms"]),
                     _fmt(level["mlflow_p50_ms"]), _fmt(round(level["maiascore_p50_ms"] / level["mlflow_p50_ms"], 3)
                                                         if level["mlflow_p50_ms"] else None)))
    return rows


def _neighbour_rows(neighbours):
    """Group A's p50 / p99 under each attack against idle (the "floor" column), and the stall check."""
    if not neighbours:
        return []
    rows = []
    idle = neighbours["idle"]
    for attack, label in (("under_waits", "3 groups x MAX_WAITS_PER_GROUP waits open"),
                          ("under_heavy_reads", "another group's heavy reads")):
        for probe, name in (("list", "GET /reports?_limit=10"), ("healthz", "/healthz")):
            under, base = neighbours[attack][probe], idle[probe]
            rows.append((f"{name} of group A p50 / p99 ms, {label} (vs idle)",
                         f"{_fmt(under['p50_ms'])} / {_fmt(under['p99_ms'])}",
                         f"{_fmt(base['p50_ms'])} / {_fmt(base['p99_ms'])}",
                         _fmt(round(under["p99_ms"] / base["p99_ms"], 2) if base["p99_ms"] and under["p99_ms"]
                              else None)))
    stall = neighbours["stall"]
    rows.append(("next POST /reports ms after a 32-connection burst, worst of 3 (vs idle p50)",
                 _fmt(stall["worst_next_post_ms"]), _fmt(stall["idle_post_p50_ms"]),
                 _fmt(round(stall["worst_next_post_ms"] / stall["idle_post_p50_ms"], 2)
                      if stall["idle_post_p50_ms"] else None)))
    return rows


def table(results):
    rows = [("figure", "product", "floor", "ratio")] + rows_of(results)
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        lines.append(" | ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(results):
    rows = rows_of(results)
    out = ["| figure | product | floor | ratio |", "|---|---:|---:|---:|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(out)


def save(results):
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, default=str)
    (RESULTS / "latest.json").write_text(text)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"run-{stamp}.json").write_text(text)
    return RESULTS / "latest.json"
