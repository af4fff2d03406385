"""Section ``peer``: ``POST /reports?wait=10`` next to MLflow's own model server on the same model.

MLflow is an optional extra of the benchmark, never of the product: it lives in a virtualenv of its
own, ``.venv-peer`` (``make bench-peer-env``, or ``BENCH_PEER=1 make bench``, creates it), with
the project's pinned XGBoost, so that neither its dependencies nor its pins reach ``.venv``. The
stack's active german-credit booster is saved there with ``mlflow.xgboost.save_model`` and served by
``mlflow models serve --env-manager local -w 2``; the same load generator then posts the same row to
both, MLflow and MaiaScore runs alternating, so a neighbour's burst on a shared machine hits both.

``python -m bench.peer env`` creates the virtualenv; ``python -m bench.peer save <booster> <dir>
<columns json>`` runs inside it (the only code that imports mlflow).
"""
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = ROOT / ".venv-peer"
MLFLOW_VERSION = "3.17.2"
RUNS = 3  # alternating runs per side and connection level
LEVELS = (1, 8)
DEFAULT_SECONDS = 6.0
WAIT = 10  # ?wait= of the MaiaScore side


def peer_python():
    return PEER_VENV / "bin" / "python"


def xgboost_pin():
    """The project's own XGBoost requirement line (``xgboost-cpu==...``): the peer scores with the same build."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if re.match(r"xgboost(-cpu)?==", line.strip()):
            return line.strip()
    raise RuntimeError("no pinned xgboost in requirements.txt")


def installed_mlflow():
    """The MLflow version of ``.venv-peer``, or None when it has none."""
    if not peer_python().exists():
        return None
    out = subprocess.run([str(peer_python()), "-c", "from importlib.metadata import version; print(version('mlflow'))"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_env(log=print):
    """Creates ``.venv-peer`` with mlflow and the pinned XGBoost unless it already has that MLflow."""
    if installed_mlflow() == MLFLOW_VERSION:
        return
    log(f"  creating {PEER_VENV.name}: pip install mlflow=={MLFLOW_VERSION} {xgboost_pin()} (a few minutes)")
    if not peer_python().exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(peer_python()), "-m", "pip", "install", "-q", f"mlflow=={MLFLOW_VERSION}", xgboost_pin()],
                   check=True)


def asked():
    """``BENCH_PEER=1``: the run may create ``.venv-peer``; without it, it only uses one that exists."""
    return os.environ.get("BENCH_PEER", "") not in ("", "0")


def unavailable_reason():
    """Why the section cannot run now (None when it can): MLflow absent and not asked for."""
    if asked():
        return None
    if installed_mlflow():
        return None
    return (f"MLflow is not installed in {PEER_VENV.name} (an optional extra, never a dependency of the product): "
            "`make bench-peer-env` installs it, or run with BENCH_PEER=1")


def mlflow_env():
    """The peer's environment: its own virtualenv first on PATH, none of the stack's Python path, no telemetry."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{PEER_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(PEER_VENV),
               MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    return env


def served_model(st, work_dir):
    """The stack's active booster saved as an MLflow model, and the one german-credit row both sides get."""
    import gridfs
    import xgboost as xgb

    from bench.data import reference_features
    from bench.floor import encode

    db = st.db()
    doc = db.models.find_one({"aid": st.aid, "active": True})
    raw = gridfs.GridFSBucket(db, "models").open_download_stream(doc["gridfs_id"]).read()
    booster = xgb.Booster(params={"nthread": 1})
    booster.load_model(bytearray(raw))
    features = reference_features()[0]
    matrix = encode(features, doc["schema"]["features"])
    row = [None if math.isnan(value) else float(value) for value in matrix[0].tolist()]
    booster_path = Path(work_dir) / "booster.ubj"
    booster_path.write_bytes(raw)
    model_dir = Path(work_dir) / "model"
    columns = list(booster.feature_names or (f"f{j}" for j in range(booster.num_features())))
    out = subprocess.run([str(peer_python()), "-m", "bench.peer", "save", str(booster_path), str(model_dir),
                          json.dumps({"columns": columns, "row": row})],
                         capture_output=True, text=True, cwd=ROOT, env=mlflow_env())
    if out.returncode:
        raise RuntimeError(f"mlflow.xgboost.save_model failed: {out.stderr[-2000:]}")
    return {"dir": model_dir, "features": features, "columns": columns, "row": row,
            "inplace_predict": float(booster.inplace_predict(matrix)[0])}


def serve(st, model_dir, workers=2):
    """``mlflow models serve`` on a free loopback port; returns (port, Child)."""
    from maiascore import devstack

    port = devstack.free_port()
    args = [str(PEER_VENV / "bin" / "mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager", "local",
            "-w", str(workers), "-h", "127.0.0.1", "-p", str(port)]
    child = devstack.Child(args, st.log_dir / "mlflow.log", env=mlflow_env())
    st.children.append(child)
    devstack.wait_for_port("127.0.0.1", port, 120, child.proc)
    return port, child


def post_once(port, path, body, headers):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, json.dumps(body), headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        conn.close()


def run(st, api_port, api_child, seconds, measure, log=print):
    """MLflow and MaiaScore runs alternating, ``RUNS`` of each at each level of ``LEVELS``.
    ``measure(web_child, run)`` runs a load and adds the CPU each side spent per request."""
    from bench.http_scenarios import load, quiesce, ratio, reset_reports, wait_workers
    from bench.stack import SCORING  # here: this module also runs as the save step, in .venv-peer

    work_dir = tempfile.mkdtemp(prefix="maiascore-peer-")
    try:
        model = served_model(st, work_dir)
        mlflow_port, mlflow_child = serve(st, model["dir"])
        reset_reports(st)
        for _ in range(2):
            st.worker(queues=SCORING)
        wait_workers(st, 2)

        json_headers = {"Content-Type": "application/json"}
        invocation = {"dataframe_split": {"columns": model["columns"], "data": [model["row"]]}}
        mlflow_requests = [{"method": "POST", "path": "/invocations", "headers": json_headers,
                            "body": json.dumps(invocation)}]

        def maiascore_requests(prefix):
            return [{"method": "POST", "path": f"/reports?wait={WAIT}", "headers": st.headers,
                     "body": json.dumps({"referenceId": f"{prefix}{i}", "features": model["features"]})}
                    for i in range(1000)]

        status, answer = post_once(mlflow_port, "/invocations", invocation, json_headers)
        mlflow_score = (answer or {}).get("predictions", [None])[0] if status == 200 else None
        status_m, report = post_once(api_port, f"/reports?wait={WAIT}",
                                     {"referenceId": "peer-check", "features": model["features"]}, st.headers)
        scores = {"inplace_predict": model["inplace_predict"], "mlflow": mlflow_score,
                  "maiascore": (report or {}).get("scoreProbability") if status_m < 300 else None}
        log(f"  the row's score: {scores}")
        load(mlflow_port, mlflow_requests, 8, 3.0)  # both sides warm before anything is measured
        load(api_port, maiascore_requests("peer-warm"), 8, 3.0)

        by_level = {}
        for connections in LEVELS:
            mlflow_runs, maiascore_runs = [], []
            for n in range(RUNS):
                quiesce(st)
                mlflow_runs.append(measure(mlflow_child, lambda: load(mlflow_port, mlflow_requests, connections,
                                                                      seconds)))
                quiesce(st)
                maiascore_runs.append(measure(api_child, lambda: load(
                    api_port, maiascore_requests(f"peer{connections}-{n}-"), connections, seconds)))
            ratios = [ratio(m["rps"], f["rps"]) for m, f in zip(maiascore_runs, mlflow_runs)]
            by_level[str(connections)] = {
                "mlflow": mlflow_runs, "maiascore": maiascore_runs, "ratios": ratios,
                "median_ratio": statistics.median(r for r in ratios if r) if any(ratios) else None,
                "mlflow_p50_ms": statistics.median(r["p50_ms"] for r in mlflow_runs),
                "maiascore_p50_ms": statistics.median(r["p50_ms"] for r in maiascore_runs),
            }
            log(f"  c={connections}: MLflow {[r['rps'] for r in mlflow_runs]} req/s, MaiaScore "
                f"{[r['rps'] for r in maiascore_runs]} req/s, ratios {ratios}")
        st.stop(mlflow_child)
        st.stop_workers()
        return {"mlflow_version": installed_mlflow(), "workers": 2, "seconds_per_run": seconds, "runs": RUNS,
                "maiascore_path": f"POST /reports?wait={WAIT}", "scores": scores, "by_connections": by_level}
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def table(result, markdown=False):
    """connections | MLflow req/s (3 runs) | MaiaScore ?wait req/s (3 runs) | ratios | median ratio; then p50s."""
    def runs(values):
        return " / ".join(f"{v:,.1f}" for v in values)

    head = ["connections", f"MLflow req/s ({result['runs']} runs)", f"MaiaScore ?wait req/s ({result['runs']} runs)",
            "ratios", "median ratio"]
    rows = []
    for connections, level in result["by_connections"].items():
        rows.append([connections, runs(r["rps"] for r in level["mlflow"]), runs(r["rps"] for r in level["maiascore"]),
                     " / ".join(f"{r:.3f}" if r else "-" for r in level["ratios"]),
                     f"{level['median_ratio']:.3f}" if level["median_ratio"] else "-"])
    one = result["by_connections"].get("1")
    tail = (f"p50 latency at 1 connection (median of the runs): MLflow {one['mlflow_p50_ms']:.2f} ms, "
            f"MaiaScore {one['maiascore_p50_ms']:.2f} ms") if one else ""
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|---:|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
        lines = [" | ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in [head] + rows]
        lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines + ([""] if markdown and tail else []) + ([tail] if tail else []))


# -- inside .venv-peer ---------------------------------------------------------------------------
def save(booster_path, model_dir, columns_json):
    """``mlflow.xgboost.save_model`` of the booster, with a signature as a model logged for serving has."""
    import mlflow.xgboost
    import pandas as pd
    import xgboost as xgb
    from mlflow.models import infer_signature

    booster = xgb.Booster()
    booster.load_model(booster_path)
    spec = json.loads(columns_json)
    example = pd.DataFrame([spec["row"]], columns=spec["columns"], dtype="float64")
    signature = infer_signature(example, booster.predict(xgb.DMatrix(example)))
    mlflow.xgboost.save_model(booster, model_dir, signature=signature,
                              pip_requirements=[xgboost_pin()])  # no requirement inference: it reloads the model


if __name__ == "__main__":
    if sys.argv[1:2] == ["env"]:
        ensure_env()
    elif sys.argv[1:2] == ["save"]:
        save(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
