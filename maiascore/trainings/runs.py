"""One execution of a training inside a worker, from its atomic claim to its last write.

A claim moves the training from ``queued`` (or ``scheduled``, once ``scheduledAt`` has
passed) to ``running`` and stamps it with a fresh ``runId``. Every later write is
conditional on that ``runId`` and on ``running``: a canceled training, or a run
superseded after its worker was presumed dead, finds its writes refused and stops.
A heartbeat thread keeps ``heartbeatAt`` fresh while the run lives, which is how the
recovery sweep tells a long training from a dead worker.
"""
import logging
import threading
import time
import uuid

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument

from config import settings
from maiascore.clock import utcnow
from maiascore.connections import get_db
from maiascore.trainings import registry
from maiascore.trainings.states import FAILED, QUEUED, RUNNING, SCHEDULED, SUCCEEDED

log = logging.getLogger("maiascore.trainings.run")
PROGRESS_INTERVAL_SECONDS = 0.5


class RunAborted(Exception):
    """The training was canceled, or another run took it over: stop without writing."""


class TrainingRun:
    def __init__(self, doc):
        self.doc = doc
        self.id = doc["_id"]
        self.aid = doc["aid"]
        self.run_id = doc["runId"]
        self.meta = doc.get("meta") or {}
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._heartbeat = None
        self._last_progress = (0, 0.0)

    @classmethod
    def claim(cls, training_id):
        """The run, or None if the training is not due (finished, canceled, running elsewhere, or early)."""
        try:
            oid = ObjectId(training_id)
        except (InvalidId, TypeError):
            return None
        now = utcnow()
        doc = get_db().trainings.find_one_and_update(
            {"_id": oid, "$or": [{"status": QUEUED},
                                 {"status": SCHEDULED, "scheduledAt": {"$lte": now}}]},
            {"$set": {"status": RUNNING, "runId": uuid.uuid4().hex, "startedAt": now, "heartbeatAt": now,
                      "progress": 0, "updated_at": now},
             "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER)
        return None if doc is None else cls(doc)

    @property
    def owned(self):
        return {"_id": self.id, "runId": self.run_id, "status": RUNNING}

    def __enter__(self):
        self._heartbeat = threading.Thread(target=self._beat, name=f"heartbeat-{self.id}", daemon=True)
        self._heartbeat.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._heartbeat.join(timeout=5)
        return False

    def _beat(self):
        interval = settings().TRAINING_HEARTBEAT_SECONDS
        while not self._stop.wait(interval):
            try:
                if not self._write({"heartbeatAt": utcnow()}):
                    self.lost.set()
                    return
            except Exception:  # a missed beat is retried on the next one
                log.warning("heartbeat of training %s failed", self.id, exc_info=True)

    def _write(self, fields):
        return get_db().trainings.update_one(self.owned, {"$set": fields}).matched_count == 1

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
        if not self._write({"progress": int(percent), "heartbeatAt": stamp, "updated_at": stamp}):
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
        now = utcnow()
        done = self._write({
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

    def fail(self, reason):
        now = utcnow()
        self._write({"status": FAILED, "error": reason, "finishedAt": now, "updated_at": now})

