"""The layering rules hold: import contracts, and a worker process free of the web framework."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_import_contracts_hold():
    result = subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_a_worker_process_loads_no_web_framework():
    """What ``rq worker -c maiascore.workers.scoring -w maiascore.workers.Worker`` imports, with every job."""
    probe = ("import sys, maiascore.workers, maiascore.workers.scoring, maiascore.workers.training;"
             "print(','.join(sorted(m for m in ('flask', 'flask_smorest', 'webargs', 'werkzeug', 'flask_jwt_extended')"
             " if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == ""


def test_jobs_are_enqueued_as_functions_not_strings():
    from maiascore.queue import enqueue

    try:
        enqueue("scores", "maiascore.reports.batch_lane.score_batch", "x")
    except TypeError as exc:
        assert "function itself" in str(exc)
    else:
        raise AssertionError("a dotted string was accepted")


def test_the_worker_runs_every_domain_sweep():
    from maiascore.alerts.jobs import recover_alerts
    from maiascore.monitoring.counters import recover_pending
    from maiascore.reports.recovery import recover_score_batches, recover_single_reports
    from maiascore.scoring_runs.jobs import recover_scoring_runs
    from maiascore.trainings.jobs import recover_trainings
    from maiascore.workers import SWEEPS

    assert set(SWEEPS) == {recover_score_batches, recover_single_reports, recover_trainings, recover_scoring_runs,
                           recover_alerts, recover_pending}


def _collections_read(path):
    """The MongoDB collections a module reaches through ``get_db()`` or a ``db`` handle."""
    return set(re.findall(r"(?:get_db\(\)|\bdb)\.([a-z_]+)\b(?!\()", path.read_text()))


def test_data_sets_are_read_only_by_their_own_package():
    """``datasets`` and its GridFS bucket belong to maiascore/datasets, which reads no other domain's collection."""
    package = ROOT / "maiascore" / "datasets"
    for path in (ROOT / "maiascore").rglob("*.py"):
        read = _collections_read(path)
        if package in path.parents:
            assert read <= {"datasets"}, (path, read)
        else:
            assert "datasets" not in read, path
            assert "GridFSBucket(get_db(), \"datasets\")" not in path.read_text(), path
