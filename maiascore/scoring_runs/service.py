"""Scoring runs: launch, list, read, cancel or delete, download the result.

The states are in :mod:`maiascore.scoring_runs.states`; the job, its chunks and its recovery
sweep in :mod:`maiascore.scoring_runs.jobs`.
"""
from datetime import datetime

from bson import ObjectId

from config import settings
from maiascore.clock import stored_now
from maiascore.connections import get_db
from maiascore.datasets.service import find_dataset
from maiascore.errors import Conflict, NotFound, Unprocessable
from maiascore.scoring_runs import jobs, outputs
from maiascore.scoring_runs.states import FILE, QUEUED, REPORTS, SUCCEEDED
from maiascore.trainings import registry

VALIDATION_FAILED = "Request validation failed"
DEFAULT_TOP = {REPORTS: 5, FILE: 0}
LIST_FIELDS = {
    "id": ("_id", ObjectId),
    "status": ("status", str),
    "progress": ("progress", int),
    "rowsDone": ("rowsDone", int),
    "rowsTotal": ("rowsTotal", int),
    "dataset": ("dataset", str),
    "modelVersion": ("model.version", str),
    "kind": ("output.kind", str),
    "engine": ("engine", str),
    "error": ("error", str),
    "startedAt": ("startedAt", datetime),
    "finishedAt": ("finishedAt", datetime),
    "created_at": ("created_at", datetime),
    "updated_at": ("updated_at", datetime),
    "published_at": ("created_at", datetime),
    "created_by": ("created_by", int),
    "updated_by": ("updated_by", int),
}


def _invalid(field, message):
    return Unprocessable(VALIDATION_FAILED, errors={field: [message]})


def create_run(aid, user_id, body):
    """Checks the data set, the row key and the model now, so a run that cannot work is refused at POST."""
    output = dict(body["output"])
    dataset = find_dataset(aid, body["dataset"])
    if dataset is None:
        raise _invalid("dataset", f"No dataset {body['dataset']} in this account group (POST /datasets).")
    columns = [c["name"] for c in dataset["columns"]]
    key = output.get("rowKey")
    if output["kind"] == REPORTS and key is None:
        raise _invalid("output", "rowKey: a run into reports needs the column that names each row (the uuid).")
    if key is not None and key not in columns:
        raise _invalid("output", f"rowKey: the dataset has no column {key!r}.")
    if output["kind"] == REPORTS:
        output.pop("format", None)
    if output.get("topContributions") is None:
        output["topContributions"] = DEFAULT_TOP[output["kind"]]
    model = _model(aid, body.get("modelVersion"))
    now = stored_now()
    doc = {
        "_id": ObjectId(),
        "aid": aid,
        "status": QUEUED,
        "progress": 0,
        "rowsDone": 0,
        "rowsTotal": dataset.get("rows"),
        "chunksDone": [],
        "chunkRows": max(1, settings().SCORING_RUN_CHUNK_ROWS),
        "dataset": str(dataset["_id"]),
        "datasetName": dataset.get("name"),
        "model": {"id": model["_id"], "version": str(model["version"]), "training": model.get("training")},
        "output": output,
        "engine": None,
        "dask": None,
        "result": None,
        "error": None,
        "attempts": 0,
        "runId": None,
        "heartbeatAt": None,
        "startedAt": None,
        "finishedAt": None,
        "created_at": now,
        "updated_at": now,
        "published_at": now,
        "created_by": user_id,
        "updated_by": user_id,
    }
    get_db().scoring_runs.insert_one(doc)
    jobs.submit(doc)
    return doc


def _model(aid, version):
    if version is None:
        model = registry.active_model(aid)
        if model is None:
            raise _invalid("modelVersion", "This account group has no active model yet: name a version or "
                                           "activate a training's model.")
        return model
    model = get_db().models.find_one({"aid": aid, "version": str(version)}, {"schema": 0})
    if model is None:
        raise _invalid("modelVersion", f"No model version {version} in this account group (GET /models).")
    return model


# reading, cancelling and deleting are the leased-job resource's (``maiascore.leases.Kind``)
get_run = jobs.LEASES.get
list_runs = jobs.LEASES.page
count_runs = jobs.LEASES.count


def delete_run(aid, run_id, user_id):
    """Cancels a run that has not finished (the reports it wrote stay); deletes a finished one and its file."""
    return jobs.LEASES.cancel_or_delete(aid, run_id, user_id,
                                   canceled=lambda doc: outputs.drop_parts(doc["_id"]),
                                   deleted=lambda doc: outputs.delete_files(doc["_id"]))


def result_file(aid, run_id):
    """``(stream, filename, content type)`` of a succeeded run's result file."""
    doc = get_run(aid, run_id)
    if doc["output"]["kind"] != FILE:
        raise NotFound("This run wrote score reports, not a file: list them with GET /score-reports")
    if doc["status"] != SUCCEEDED or not doc.get("result"):
        raise Conflict(f"The result file exists once the run has succeeded; this one is {doc['status']}")
    result = doc["result"]
    return outputs.open_result(result), result["filename"], outputs.MIME[result["format"]]
