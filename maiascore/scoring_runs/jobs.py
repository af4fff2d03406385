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

from distributed import as_completed
from pymongo import ReturnDocument

from config import settings
from maiascore import leases
from maiascore.clock import utcnow
from maiascore.connections import get_db
from maiascore.datasets import reading, uris
from maiascore.datasets.service import find_dataset
from maiascore.leases import RunAborted
from maiascore.modeling import DatasetError
from maiascore.modeling.batch import score_chunk
from maiascore.reports.scoring import score_scale_dict, upsert_scored
from maiascore.scoring_runs import outputs
from maiascore.scoring_runs.states import CANCELED, FAILED, FILE, QUEUED, REPORTS, RUNNING, SUCCEEDED
from maiascore.trainings import registry
from maiascore.trainings.engines import EngineFailed, dask_client
from maiascore.trainings.runs import settle

log = logging.getLogger("maiascore.scoring_runs.jobs")
LEASES = leases.Kind("scoring_runs", "scoring run", "scoring-run", log, queued=QUEUED, running=RUNNING,
                     failed=FAILED, canceled=CANCELED, waiting=(QUEUED,), max_attempts=5)
LOCAL, DASK = "local", "dask"


def submit(doc):
    LEASES.submit(run_scoring, doc["_id"])


class Claimed(leases.Lease):
    """One attempt at a run, from its claim to its last write; heartbeats while it lives."""

    kind = LEASES

    def __init__(self, doc):
        super().__init__(doc)
        self.done = set(doc.get("chunksDone") or [])
        self.rows_done = doc.get("rowsDone", 0)

    @classmethod
    def claim(cls, run_id):
        now = utcnow()
        doc = leases.claim(LEASES, run_id, now, {"status": QUEUED})
        if doc is not None and doc.get("startedAt") is None:
            get_db().scoring_runs.update_one({"_id": doc["_id"], "startedAt": None}, {"$set": {"startedAt": now}})
        return None if doc is None else cls(doc)

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


def run_scoring(run_id):
    behind = leases.take_turn(LEASES, run_id)  # groups take turns with the trainings too
    if behind is not None:
        return behind
    run = Claimed.claim(run_id)
    if run is None:
        log.info("scoring run %s is not queued (finished, canceled or running elsewhere): nothing to do", run_id)
        return "skipped"
    return settle(run, lambda: Scoring(run).run(), "The run")[0]


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
            upsert_scored(self.doc["aid"], self.doc["created_by"], keys, records, results)
        else:
            outputs.write_part(self.doc, chunk, scored, self.output["format"])
            rows = len(scored)
        self.run_.chunk_done(chunk, rows)

    def on_dask(self):
        with dask_client() as client:  # closed after: a cancel stops the run's partitions at once
            self._dask(client)

    def _dask(self, client):
        """Partition-parallel: each Dask worker reads its partitions and scores them with the booster
        (``inplace_predict``); the job writes each partition's result as it arrives."""
        frame = uris.read_frame(self.doc["aid"], self.dataset)
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
    return {"id": str(model["_id"]), "version": str(model["version"]), "bytes": registry.load_model_bytes(model),
            "schema": model["schema"], "scale": score_scale_dict()}


def recover_scoring_runs():
    """The sweep (``leases.recover``): a running run whose worker was lost is re-queued and resumes from its
    last chunk; failed after ``max_attempts``. Returns ``(resubmitted, rescued)``."""
    return leases.recover(LEASES, submit, _requeued, {"_id": 1}, {"rowsDone": 1})


def _requeued(doc, stopped):
    return {"error": f"{stopped}; resumed after row {doc.get('rowsDone', 0)}"}
