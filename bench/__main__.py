"""``make bench``: every figure next to its floor, measured in the same run on the same servers.

Environment: ``BENCH_QUICK=1`` (a ~2-minute smoke run), ``BENCH_DURATION`` (seconds per
HTTP measurement, default 10), ``BENCH_E2E_REPORTS`` (default 20000),
``BENCH_E2E_SINGLE_REPORTS`` (reports posted one by one, default 2000: one job per report
makes 20,000 take ~15 min per worker count here),
``BENCH_TRAINING_SIZES`` (default ``10000,100000,1000000``), ``BENCH_RUN_ROWS`` (rows of the
batch scoring run, default 1000000), ``BENCH_DASK_ROWS`` (rows of the Dask training comparison,
default ``1000000,5000000``), ``BENCH_MONITORING_REPORTS`` (scored reports of the large monitoring
read, default 100000), ``BENCH_MONGO_URI`` (a MongoDB instead of the embedded
server), ``BENCH_ONLY`` (comma-separated sections:
post,get,wait,bare,peer,attack,e2e,worker,training,fairness,runs,dask,neighbours,monitoring),
``BENCH_PEER=1`` (creates ``.venv-peer`` with MLflow if it is missing, for the ``peer`` section: MaiaScore
next to ``mlflow models serve``; without MLflow installed there, the section is skipped; its runs
last ``BENCH_DURATION`` seconds when set, else 6, 3 in quick mode).
"""
import json
import os
import subprocess
import sys
import time

from bench import attack, e2e, fairness, neighbours, peer, report, training_bench, web_profile, worker_profile
from bench.http_scenarios import compare, drain, load, post_requests, quiesce, ratio, reset_reports, wait_workers
from bench.stack import SCORING, Stack, cpu_seconds

SECTIONS = ("post", "get", "wait", "bare", "peer", "attack", "e2e", "worker", "training", "fairness", "runs", "dask",
            "neighbours", "monitoring")
STACK_SECTIONS = SECTIONS[:10]  # the sections measured on the shared stack; the others start their own
WAIT_CAP = "64"  # MAX_WAITS_PER_GROUP for the run: one tenant drives 32 waiting clients


def options():
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    e2e_reports = int(os.environ.get("BENCH_E2E_REPORTS", 2000 if quick else 20000))
    sizes = os.environ.get("BENCH_TRAINING_SIZES", "10000" if quick else "10000,100000,1000000")
    only = os.environ.get("BENCH_ONLY")
    return {
        "quick": quick,
        "duration": float(os.environ.get("BENCH_DURATION", 3 if quick else 10)),
        "peer_duration": float(os.environ.get("BENCH_DURATION", 3 if quick else 6)),
        "levels": (8, 32),
        "e2e_reports": e2e_reports,
        "e2e_single_reports": int(os.environ.get("BENCH_E2E_SINGLE_REPORTS", 200 if quick else 2000)),
        "e2e_floor_reports": 1000 if quick else 5000,
        "training_sizes": [int(s) for s in sizes.split(",") if s.strip()],
        "training_breakdown_rows": 10000 if quick else 100000,
        "profile_bulk_batches": 1 if quick else 3,
        "profile_singles": 50 if quick else 300,
        "run_rows": int(os.environ.get("BENCH_RUN_ROWS", 100_000 if quick else 1_000_000)),
        "dask_rows": [int(s) for s in os.environ.get("BENCH_DASK_ROWS", "100000" if quick else "1000000,5000000")
                      .split(",") if s.strip()],
        "monitoring_reports": int(os.environ.get("BENCH_MONITORING_REPORTS", 10_000 if quick else 100_000)),
        "sections": [s.strip() for s in only.split(",")] if only else list(SECTIONS),
    }


def json_lines(module, *args):
    """A benchmark that starts its own servers, in a child process: its JSON lines."""
    out = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True)
    if out.returncode:
        return [{"error": (out.stderr or out.stdout)[-2000:]}]
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def log(message):
    print(message, flush=True)


def main():
    opts = options()
    results = {"machine": report.machine_info(), "options": opts}
    started = time.perf_counter()
    if "peer" in opts["sections"]:
        skipped = peer.unavailable_reason()
        if skipped:  # an optional extra: said, not failed, and no stack started for it alone
            log(f"* 13. peer (MaiaScore vs mlflow models serve): skipped: {skipped}")
            results["mlflow_peer"] = {"skipped": skipped}
            opts["sections"] = [s for s in opts["sections"] if s != "peer"]
        elif peer.asked():
            peer.ensure_env(log)  # before the stack starts: the install takes a minute or more
    if set(opts["sections"]) & set(STACK_SECTIONS):
        on_stack(opts, results)
    if "runs" in opts["sections"]:
        log(f"* 8. batch scoring run of {opts['run_rows']:,} rows to Parquet vs pyarrow + inplace_predict")
        results["scoring_run"] = json_lines("bench.scoring_run", "--rows", opts["run_rows"])[-1]
        log(f"  {results['scoring_run']}")
    if "dask" in opts["sections"]:
        results["dask_training"] = {}
        for rows in opts["dask_rows"]:
            log(f"* 9. training on {rows:,} rows: Dask (2 workers) vs local engine vs xgboost.train")
            results["dask_training"][str(rows)] = json_lines("bench.dask_training", "--rows", rows)
            log(f"  {results['dask_training'][str(rows)]}")
    if "neighbours" in opts["sections"]:
        log("* 11. noisy neighbours: group A's list and /healthz idle vs under other groups' waits and heavy reads; "
            "stalls after a burst")
        results["neighbours"] = neighbours.run(opts["duration"], log=log)
    if "monitoring" in opts["sections"]:
        large = opts["monitoring_reports"]
        log(f"* 12. model health read over {large:,} scored reports vs 1,000; scoring with a challenger vs without")
        results["monitoring"] = json_lines("bench.monitoring_bench", "--large", large, "--medium",
                                           max(1000, large // 10), "--small", 1000)[-1]
        log(f"  {results['monitoring']}")
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return finish(results, started)


def with_cpu(st, web_child, run):
    """A load run, with the CPU each side of the stack spent per request during it: where the time goes."""
    sides = {"database": st.mongo, "web": web_child, "workers": st.workers}

    def seconds():
        return {name: sum(cpu_seconds(c) for c in (side if isinstance(side, list) else [side]))
                for name, side in sides.items()}

    before = seconds()
    result = run()
    after = seconds()
    done = result.get("answered_including_warmup") or sum(result["statuses"].values()) or 1
    result["cpu_ms_per_request"] = {name: round((after[name] - before[name]) * 1000 / done, 3) for name in sides}
    return result


def on_stack(opts, results):
    with Stack(extra_env={"MAX_WAITS_PER_GROUP": WAIT_CAP}) as st:
        log(f"* stack up, logs in {st.log_dir}")
        st.setup_tenant()
        st.install_model()
        api_port, api_child = st.web()
        floor_port, floor_child = st.web("bench.floor:app", "floor")

        def cpu_of(floor_side):
            return lambda side, run: with_cpu(st, api_child if side == "product" else floor_side, run)

        headers = st.headers
        sections = opts["sections"]
        for port, requests in ((api_port, post_requests(headers, prefix="warm")),
                               (floor_port, post_requests({"Content-Type": "application/json"}, prefix="warm"))):
            load(port, requests, 8, 3.0)  # both sides warm (imports, caches, pools) before anything is measured

        if "post" in sections:
            log("* 1. POST /reports (no worker running: the web side alone)")
            results["api_post_reports"] = compare(api_port, post_requests(headers), floor_port,
                                                  post_requests({"Content-Type": "application/json"}),
                                                  opts["levels"], opts["duration"], cpu_of(floor_child))
            log(f"  ratio_to_floor {results['api_post_reports']['ratio_to_floor']}")
            results["api_post_reports"]["profile"] = web_profile.run(st, 100 if opts["quick"] else 300)
            log(f"  in one process: {results['api_post_reports']['profile']['breakdown_ms_per_request']}")

        if "get" in sections:
            log("* 2. GET /reports/{id} and GET /reports?_limit=100")
            reset_reports(st)
            worker_profile.create_batches(st, 2, 1000)
            from maiascore.reports.batch_lane import enqueue_batch

            for batch in st.db().score_batches.find({"status": "queued"}, {"_id": 1}):
                enqueue_batch(batch["_id"])
            for _ in range(2):
                st.worker(queues=SCORING)
            drain(st.db(), st.aid, 2000)
            st.stop_workers()
            ids = [str(d["_id"]) for d in st.db().score_reports.find({"aid": st.aid}, {"_id": 1}).limit(1000)]
            one = [{"method": "GET", "path": f"/reports/{i}", "headers": headers} for i in ids]
            results["api_get_report"] = compare(api_port, one, floor_port, one, opts["levels"], opts["duration"],
                                                cpu_of(floor_child))
            listing = [{"method": "GET", "path": "/reports?_limit=100", "headers": headers}]
            results["api_list_reports"] = compare(api_port, listing, floor_port, listing, opts["levels"],
                                                  opts["duration"], cpu_of(floor_child))
            log(f"  one: {results['api_get_report']['ratio_to_floor']}, "
                f"list: {results['api_list_reports']['ratio_to_floor']}")

        if "wait" in sections:
            log("* 6. POST /reports?wait=30 (synchronous path, 2 workers each side)")
            reset_reports(st)
            for _ in range(2):
                st.worker(queues=SCORING)
                st.worker(queues=("floor",), worker_class="rq.worker.SimpleWorker", scheduler=False,
                          name="floor-worker")
            wait_workers(st, 4)
            results["wait_latency"] = compare(
                api_port, post_requests(headers, "/reports?wait=30", prefix="w"),
                floor_port, post_requests({"Content-Type": "application/json"}, "/reports/wait", prefix="w"),
                (1, 8), opts["duration"], cpu_of(floor_child))
            st.stop_workers()
            log(f"  ratio_to_floor {results['wait_latency']['ratio_to_floor']}")

        if "bare" in sections:
            log("* 7. POST /reports?wait=30 side by side with a bare model server (inplace_predict, nothing stored)")
            reset_reports(st)
            for _ in range(2):
                st.worker(queues=SCORING)
            wait_workers(st, 2)
            bare_port, bare_child = st.web("bench.model_floor:app", "model-floor")
            results["bare_model_server"] = compare(
                api_port, post_requests(headers, "/reports?wait=30", prefix="m"),
                bare_port, post_requests({"Content-Type": "application/json"}, "/invocations", prefix="m"),
                (1, 8), opts["duration"], cpu_of(bare_child))
            log(f"  ratio_to_bare_model_server {results['bare_model_server']['ratio_to_floor']}")
            by_level = {}
            for connections in opts["levels"]:
                quiesce(st)
                waiting = with_cpu(st, api_child, lambda: load(
                    api_port, post_requests(headers, "/reports?wait=30", prefix=f"y{connections}"),
                    connections, opts["duration"]))
                quiesce(st)
                plain = with_cpu(st, api_child, lambda: load(
                    api_port, post_requests(headers, prefix=f"z{connections}"), connections, opts["duration"]))
                by_level[str(connections)] = {"wait": waiting, "plain": plain,
                                              "ratio": ratio(waiting["rps"], plain["rps"])}
            results["wait_vs_plain_post"] = {"by_connections": by_level}
            st.stop_workers()
            log(f"  ?wait / plain POST: {({c: v['ratio'] for c, v in by_level.items()})}")

        if "peer" in sections:
            log(f"* 13. POST /reports?wait={peer.WAIT} vs mlflow models serve (-w 2) on the same booster and row, "
                f"runs alternating, {opts['peer_duration']:g} s each")
            results["mlflow_peer"] = peer.run(st, api_port, api_child, opts["peer_duration"],
                                              lambda web, run: with_cpu(st, web, run), log=log)
            log(peer.table(results["mlflow_peer"]))

        if "attack" in sections:
            log("* 10. /healthz while one tenant waits on reports behind its own 10,000-report bulk")
            results["healthz_under_attack"] = attack.run(st, api_port, opts["duration"],
                                                         2000 if opts["quick"] else 10_000, log=log)

        if "e2e" in sections:
            log("* 3. end-to-end scoring")
            results["e2e_scoring"] = e2e.run(st, api_port, opts["e2e_reports"], opts["e2e_floor_reports"],
                                             single_total=opts["e2e_single_reports"], log=log)

        if "worker" in sections:
            log("* 4. scoring job vs raw xgboost inplace_predict, in one process")
            results["worker_vs_xgboost"] = worker_profile.run(st, bulk_batches=opts["profile_bulk_batches"],
                                                              singles=opts["profile_singles"], log=log)

        if "training" in sections:
            log("* 5. training job vs plain xgboost.train")
            results["training"] = training_bench.run(st, api_port, opts["training_sizes"],
                                                     opts["training_breakdown_rows"], log=log)

        if "fairness" in sections:
            log("* 11. one group's ?wait=10 single reports during another group's bulk, one scoring worker")
            results["fairness"] = fairness.run(st, api_port, 2000 if opts["quick"] else 10_000, log=log)


def finish(results, started):
    results["seconds"] = round(time.perf_counter() - started, 1)
    path = report.save(results)
    print()
    print(report.table(results))
    print(f"\n{path} written; {results['seconds']} s on {results['machine']['cpu']} "
          f"({results['machine']['cores']} cores, load {results['machine']['load_average_at_start']} -> "
          f"{results['machine']['load_average_at_end']})")
    return 0


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):  # the options are environment variables: say so, start nothing
        print(__doc__)
        sys.exit(0)
    sys.exit(main())
