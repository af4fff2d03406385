"""The scoring-run job (queue ``trainings``, job id ``scoring-run-<id>``), how it is enqueued, and
its recovery sweep.

One job scores the whole run, a chunk at a time (``SCORING_RUN_CHUNK_ROWS`` rows locally, a
partition on Dask), and records each finished chunk in the run (``chunksDone``) in the same
conditional write that advances its progress. A run whose worker is killed is re-queued by the
sweep (its heartbeat stops) and resumes after its last recorded chunk; a chunk that was being
written when the worker died is written again, which the outputs make harmless (reports are
upserted by uuid, a file part replaces its earlier copy). Safe to run twice: only the run that
claims the document (``runId``) writes, a canceled or finished run is left alone.
"""
import logging
import threading
import uuid
from datetime import timedelta

import redis.exceptions
from bson import ObjectId
from bson.errors import InvalidId
from distributed import Client, as_completed
from pymongo import ReturnDocument
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException

from config import settings
from maiascore.clock import utcnow
from maiascore.connections import get_db, get_redis
from maiascore.modeling import DatasetError
from maiascore.modeling.batch import score_chunk
from maiascore.queue import TRAININGS, enqueue, job_is_live
from maiascore.scoring_runs import outputs, reading
from maiascore.scoring_runs.states import FAILED, FILE, QUEUED, REPORTS, RUNNING, SUCCEEDED
from maiascore.trainings import registry, sources
from maiascore.trainings.datasets import find_dataset

log = logging.getLogger("maiascore.scoring_runs.jobs")
MAX_ATTEMPTS = 5
LOCAL, DASK = "local", "dask"


class RunAborted(Exception):
    """Canceled, or taken over by another attempt: stop without writing."""


class EngineFailed(ValueError):
    """The Dask cluster failed the run; the message is the reason."""


def job_id(run_id):
    return f"scoring-run-{run_id}"


def submit(doc):
    """Hands the run to RQ; with Redis away the sweep submits it later."""
    try:
        enqueue(TRAININGS, run_scoring, str(doc["_id"]), job_id=job_id(doc["_id"]),
                timeout=settings().TRAINING_JOB_TIMEOUT)
    except redis.exceptions.RedisError as exc:
        log.warning("scoring run %s not enqueued (%s); the sweep will enqueue it", doc["_id"], type(exc).__name__)


def drop_job(run_id):
    try:
        Job.fetch(job_id(run_id), connection=get_redis()).delete()
    except NoSuchJobError:
        pass
    except redis.exceptions.RedisError as exc:
        log.warning("could not remove the job of scoring run %s: %s", run_id, type(exc).__name__)


class Claimed:
    """One attempt at a run, from its claim to its last write; heartbeats while it lives."""

    def __init__(self, doc):
        self.doc, self.id, self.run_id = doc, doc["_id"], doc["runId"]
        self.done = set(doc.get("chunksDone") or [])
        self.rows_done = doc.get("rowsDone", 0)
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._beat_thread = None

    @classmethod
    def claim(cls, run_id):
        try:
            oid = ObjectId(run_id)
        except (InvalidId, TypeError):
            return None
        now = utcnow()
        doc = get_db().scoring_runs.find_one_and_update(
            {"_id": oid, "status": QUEUED},
            {"$set": {"status": RUNNING, "runId": uuid.uuid4().hex, "heartbeatAt": now, "updated_at": now},
             "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER)
        if doc is not None and doc.get("startedAt") is None:
            get_db().scoring_runs.update_one({"_id": oid, "startedAt": None}, {"$set": {"startedAt": now}})
        return None if doc is None else cls(doc)

    @property
    def owned(self):
        return {"_id": self.id, "runId": self.run_id, "status": RUNNING}

    def write(self, fields, extra=None):
        return get_db().scoring_runs.update_one({**self.owned, **(extra or {})},
                                                {"$set": fields}).matched_count == 1

    def __enter__(self):
        self._beat_thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.id}", daemon=True)
        self._beat_thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._beat_thread.join(timeout=5)
        return False

    def _beat(self):
        while not self._stop.wait(settings().TRAINING_HEARTBEAT_SECONDS):
            try:
                if not self.write({"heartbeatAt": utcnow()}):
                    self.lost.set()
                    return
            except Exception:  # a missed beat is retried on the next one
                log.warning("heartbeat of scoring run %s failed", self.id, exc_info=True)

    def chunk_done(self, chunk, rows):
        """Records a written chunk; raises RunAborted once the run is canceled or taken over."""
        if self.lost.is_set():
            raise RunAborted()
        total = self.doc.get("rowsTotal") or 0
        done_rows = self.rows_done + rows
        now = utcnow()
        changed = get_db().scoring_runs.update_one(
            {**self.owned, "chunksDone": {"$ne": chunk}},
            {"$addToSet": {"chunksDone": chunk}, "$inc": {"rowsDone": rows},
             "$set": {"progress": min(99, done_rows * 100 // total) if total else 0, "heartbeatAt": now,
                      "updated_at": now}})
        if not changed.matched_count:
            self.lost.set()
            raise RunAborted()
        self.done.add(chunk)
        self.rows_done = done_rows

    def fail(self, reason):
        now = utcnow()
        self.write({"status": FAILED, "error": reason, "finishedAt": now, "updated_at": now})


def run_scoring(run_id):
    run = Claimed.claim(run_id)
    if run is None:
        log.info("scoring run %s is not queued (finished, canceled or running elsewhere): nothing to do", run_id)
        return "skipped"
    with run:
        try:
            Scoring(run).run()
        except RunAborted:
            log.info("scoring run %s was canceled or taken over: stopped", run_id)
            return "aborted"
        except (DatasetError, ValueError) as exc:
            run.fail(f"Invalid dataset: {exc}" if isinstance(exc, DatasetError) else str(exc))
            return "failed"
        except JobTimeoutException:
            run.fail(f"The run exceeded the {settings().TRAINING_JOB_TIMEOUT} s limit (TRAINING_JOB_TIMEOUT)")
            return "failed"
        except Exception as exc:
            log.exception("scoring run %s failed", run_id)
            run.fail(f"The run failed unexpectedly ({type(exc).__name__}); the worker log names scoring run "
                     f"{run_id}")
            return "failed"
    return "succeeded"


class Scoring:
    def __init__(self, run):
        self.run_, self.doc = run, run.doc
        self.output = self.doc["output"]
        self.dataset = find_dataset(self.doc["aid"], self.doc["dataset"])
        if self.dataset is None:
            raise DatasetError(f"dataset {self.doc['dataset']} no longer exists in this account group")
        self.payload = model_payload(self.doc)
        self.options = {"rowKey": self.output.get("rowKey"), "topContributions": self.output["topContributions"],
                        "reports": self.output["kind"] == REPORTS, "target": self.dataset.get("target")}

    def engine(self):
        return DASK if settings().DASK_SCHEDULER_ADDRESS and self.dataset.get("uri") else LOCAL

    def run(self):
        engine = self.engine()
        if self.doc.get("engine") not in (None, engine):  # chunks and partitions do not line up: start over
            outputs.drop_parts(self.doc["_id"])
            if not self.run_.write({"chunksDone": [], "rowsDone": 0}):
                raise RunAborted()
            self.run_.done, self.run_.rows_done = set(), 0
        if engine == LOCAL:
            self.run_.write({"engine": LOCAL, "dask": None})
            self.local()
        else:
            self.on_dask()
        self.finish()

    def local(self):
        size = self.doc["chunkRows"]
        for chunk, frame in enumerate(reading.chunks(self.dataset, size)):
            if chunk in self.run_.done:
                continue
            if self.run_.lost.is_set():
                raise RunAborted()
            self.store(chunk, score_chunk(frame, self.payload, self.options, chunk * size))

    def store(self, chunk, scored):
        if self.options["reports"]:
            keys, records, results, rows = scored
            outputs.write_reports(self.doc, keys, records, results)
        else:
            outputs.write_part(self.doc, chunk, scored, self.output["format"])
            rows = len(scored)
        self.run_.chunk_done(chunk, rows)

    def on_dask(self):
        cfg = settings()
        try:
            client = Client(cfg.DASK_SCHEDULER_ADDRESS, timeout=cfg.DASK_CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise EngineFailed(f"The Dask cluster at {cfg.DASK_SCHEDULER_ADDRESS} cannot be reached "
                               f"({type(exc).__name__})") from None
        try:
            with client.as_current():
                self._dask(client)
        finally:
            client.close()  # drops every future of this run: a cancel stops its partitions at once

    def _dask(self, client):
        """Partition-parallel: each Dask worker reads its partitions and scores them with the booster
        (``inplace_predict``); the job writes each partition's result as it arrives."""
        frame = sources.read_frame(self.doc["aid"], self.dataset, None)
        workers = len(client.nthreads())
        if not workers:
            raise EngineFailed("The Dask cluster has no worker")
        self.run_.write({"engine": DASK, "dask": {"workers": workers, "partitions": frame.npartitions}})
        pieces = client.compute(frame.to_delayed())
        lengths = client.gather(client.map(len, pieces))
        starts = [sum(lengths[:i]) for i in range(len(lengths))]
        model = client.scatter(self.payload, broadcast=True)
        todo = [i for i in range(len(pieces)) if i not in self.run_.done]
        futures = {client.submit(score_chunk, pieces[i], model, self.options, starts[i], pure=False): i
                   for i in todo}
        del pieces
        try:
            for future in as_completed(futures):
                self.store(futures[future], future.result())
        except (RunAborted, DatasetError):
            raise
        except (OSError, RuntimeError) as exc:
            raise EngineFailed(f"The Dask cluster failed the run ({type(exc).__name__}); it resumes from its "
                               "last finished partition when launched again") from None

    def finish(self):
        result = None
        if self.output["kind"] == FILE:
            result = outputs.assemble(self.doc, self.output["format"])
        now = utcnow()
        done = get_db().scoring_runs.find_one_and_update(
            self.run_.owned,
            {"$set": {"status": SUCCEEDED, "progress": 100, "result": result, "error": None, "finishedAt": now,
                      "updated_at": now}},
            return_document=ReturnDocument.AFTER)
        if done is None:
            if result is not None:
                outputs.delete_files(self.doc["_id"])
            raise RunAborted()
        get_db().scoring_runs.update_one({"_id": self.doc["_id"]}, {"$set": {"rowsTotal": done["rowsDone"]}})
        if result is not None:
            outputs.drop_parts(self.doc["_id"])
            outputs.drop_other_results(self.doc["_id"], result["fileId"])


def model_payload(doc):
    """What a scorer needs, as plain data a Dask worker can receive."""
    model = get_db().models.find_one({"_id": doc["model"]["id"], "aid": doc["aid"]})
    if model is None:
        raise ValueError(f"Model version {doc['model']['version']} no longer exists in this account group")
    cfg = settings()
    return {"id": str(model["_id"]), "version": str(model["version"]), "bytes": registry.load_model_bytes(model),
            "schema": model["schema"],
            "scale": {"base_points": cfg.SCORE_BASE_POINTS, "base_odds": cfg.SCORE_BASE_ODDS, "pdo": cfg.SCORE_PDO,
                      "min_score": cfg.SCORE_MIN, "max_score": cfg.SCORE_MAX}}


def recover_scoring_runs():
    """The sweep: re-submits queued runs whose job is gone and re-queues running ones whose worker
    stopped heart-beating (they resume from their last chunk); failed after MAX_ATTEMPTS attempts.

    Returns ``(resubmitted, rescued)``.
    """
    db = get_db()
    cfg = settings()
    now = utcnow()
    settled = now - timedelta(seconds=cfg.SWEEP_GRACE_SECONDS)
    stale = now - timedelta(seconds=3 * cfg.TRAINING_HEARTBEAT_SECONDS)
    resubmitted = rescued = 0
    for doc in db.scoring_runs.find({"status": QUEUED, "updated_at": {"$lt": settled}}, {"_id": 1}):
        if not job_is_live(job_id(doc["_id"])):
            submit(doc)
            resubmitted += 1
    for doc in db.scoring_runs.find({"status": RUNNING, "heartbeatAt": {"$lt": settled}},
                                    {"runId": 1, "attempts": 1, "heartbeatAt": 1, "rowsDone": 1}):
        if doc["heartbeatAt"] < stale or not job_is_live(job_id(doc["_id"])):
            rescue(doc, now)
            rescued += 1
    if resubmitted or rescued:
        log.warning("scoring-run sweep: %s queued runs re-submitted, %s lost runs resumed", resubmitted, rescued)
    return resubmitted, rescued


def rescue(doc, now):
    db = get_db()
    owned = {"_id": doc["_id"], "runId": doc["runId"], "status": RUNNING}
    lost_at = doc["heartbeatAt"].isoformat(timespec="seconds")
    if doc.get("attempts", 0) >= MAX_ATTEMPTS:
        db.scoring_runs.update_one(owned, {"$set": {
            "status": FAILED, "finishedAt": now, "updated_at": now,
            "error": f"The worker running this scoring run stopped (last heartbeat {lost_at}) on {MAX_ATTEMPTS} "
                     "attempts; launch it again"}})
        return
    requeued = db.scoring_runs.update_one(owned, {"$set": {
        "status": QUEUED, "runId": None, "updated_at": now,
        "error": f"The worker running this scoring run stopped (last heartbeat {lost_at}); resumed after row "
                 f"{doc.get('rowsDone', 0)}"}})
    if requeued.modified_count:
        drop_job(doc["_id"])
        submit({"_id": doc["_id"]})
