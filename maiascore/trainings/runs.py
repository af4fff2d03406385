"""One execution of a training inside a worker, from its atomic claim to its last write.

A claim (:func:`maiascore.leases.claim`) moves the training from ``queued`` (or ``scheduled``,
once ``scheduledAt`` has passed) to ``running`` under a fresh ``runId``; every later write is
conditional on it, and a heartbeat keeps ``heartbeatAt`` fresh while the run lives
(:class:`maiascore.leases.Lease`, shared with scoring runs).
"""
import logging
import time

from rq.timeouts import JobTimeoutException

from config import settings
from maiascore import leases
from maiascore.clock import utcnow
from maiascore.connections import get_db
from maiascore.events import MODEL_STORED
from maiascore.leases import RunAborted
from maiascore.modeling import DatasetError
from maiascore.trainings import registry
from maiascore.trainings.states import CANCELED, FAILED, PENDING, QUEUED, RUNNING, SCHEDULED, SUCCEEDED

LEASES = leases.Kind("trainings", "training", "train", logging.getLogger("maiascore.trainings.jobs"),
                     queued=QUEUED, running=RUNNING, failed=FAILED, canceled=CANCELED, waiting=PENDING,
                     max_attempts=2)
PROGRESS_INTERVAL_SECONDS = 0.5


def settle(run, work, subject):
    """Runs ``work()`` while the claimed ``run`` (a :class:`maiascore.leases.Lease`) heartbeats; returns the
    job's outcome ("succeeded", "aborted" or "failed", the reason recorded on the document) and what
    ``work`` returned. ``subject`` opens the errors people read ("Training", "The run"): the training
    and the scoring-run jobs end alike."""
    kind = run.kind
    with run:
        try:
            result = work()
        except RunAborted:
            kind.log.info("%s %s was canceled or taken over: stopped", kind.noun, run.id)
            return "aborted", None
        except (DatasetError, ValueError) as exc:
            run.fail(f"Invalid dataset: {exc}" if isinstance(exc, DatasetError) else str(exc))
            return "failed", None
        except JobTimeoutException:
            run.fail(f"{subject} exceeded the {settings().TRAINING_JOB_TIMEOUT} s limit (TRAINING_JOB_TIMEOUT)")
            return "failed", None
        except Exception as exc:
            kind.log.exception("%s %s failed", kind.noun, run.id)
            run.fail(f"{subject} failed unexpectedly ({type(exc).__name__}); the worker log names {kind.noun} "
                     f"{run.id}")
            return "failed", None
    return "succeeded", result


class TrainingRun(leases.Lease):
    kind = LEASES

    def __init__(self, doc):
        super().__init__(doc)
        self.aid = doc["aid"]
        self.meta = doc.get("meta") or {}
        self._last_progress = (0, 0.0)

    @classmethod
    def claim(cls, training_id):
        """The run, or None if the training is not due (finished, canceled, running elsewhere, or early)."""
        now = utcnow()
        doc = leases.claim(LEASES, training_id, now,
                           {"$or": [{"status": QUEUED}, {"status": SCHEDULED, "scheduledAt": {"$lte": now}}]},
                           {"startedAt": now, "progress": 0})
        return None if doc is None else cls(doc)

    def progress(self, percent):
        """XGBoost callback: at most one write every PROGRESS_INTERVAL_SECONDS; raises once the run is lost."""
        if self.lost.is_set():
            raise RunAborted()
        last_percent, last_time = self._last_progress
        now = time.monotonic()
        if percent <= last_percent or (now - last_time < PROGRESS_INTERVAL_SECONDS and percent < 100):
            return
        self._last_progress = (percent, now)
        stamp = utcnow()
        if not self.write({"progress": int(percent), "heartbeatAt": stamp, "updated_at": stamp}):
            self.lost.set()
            raise RunAborted()

    def assign_version(self):
        """The model version, taken once per training even when the job runs again."""
        db = get_db()
        current = db.trainings.find_one({"_id": self.id}, {"version": 1})
        if current and current.get("version"):
            return current["version"]
        version = registry.new_version(self.aid)
        db.trainings.update_one({"_id": self.id, "version": None}, {"$set": {"version": version}})
        return db.trainings.find_one({"_id": self.id}, {"version": 1})["version"]

    def succeed(self, trained):
        """Stores the model, records the metrics, then applies the ``activate`` policy."""
        if self.lost.is_set():
            raise RunAborted()
        version = self.assign_version()
        metrics = dict(trained.metrics, bestIteration=trained.best_iteration, rows=trained.rows)
        model = registry.store_model(self.aid, self.id, version, trained.booster_bytes, trained.schema.to_dict(),
                                     metrics)
        MODEL_STORED.send(aid=self.aid, version=model["version"], trained=trained)
        now = utcnow()
        done = self.write({
            "status": SUCCEEDED, "progress": 100, "error": None, "finishedAt": now, "updated_at": now,
            "accuracy": metrics["accuracy"], "precission": metrics["precision"], "mae": metrics["mae"],
            "rmse": metrics["rmse"], "binaryPath": model["binaryPath"], "version": model["version"],
            "meta.metrics": metrics,
        })
        if not done:
            registry.discard_model(model)
            raise RunAborted()
        if registry.is_better(self.aid, metrics, self.meta.get("activate", "if-better")):
            registry.activate(self.aid, self.id)
        return model
