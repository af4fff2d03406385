"""The floor: a minimal Flask app doing only the unavoidable work of each measured route.

Served by the same gunicorn command line as the product (``launcher.gunicorn_command``:
gevent workers), against the same MongoDB and Redis, so product / floor is the cost
of everything the product adds (validation, auth, tenancy, negotiation, logging...).

- ``POST /reports``: one ``insert_one`` (into ``floor_reports``, which has the same
  indexes as ``score_reports``) and one RQ enqueue.
- ``GET /reports/<id>``: one ``find_one`` by ``_id`` on the product's ``score_reports``, then the
  tenant compared (the cheapest point read on every engine).
- ``GET /reports``: one ``find`` of 100 of them, newest first, on the same index.
- ``POST /reports/wait``: insert, enqueue :func:`score_one` on the ``floor`` queue and
  wait on a pub/sub channel until a plain ``rq`` worker has scored it with raw
  ``inplace_predict`` (the synchronous path's floor).
"""
import json
import os
from datetime import datetime, timezone

import redis
from bson import ObjectId
from flask import Flask, Response, request
from pymongo import MongoClient
from rq import Queue

FLOOR_QUEUE = "floor"
app = Flask(__name__)
_clients = {}


def db():
    key = ("mongo", os.getpid())
    if key not in _clients:
        _clients[key] = MongoClient(os.environ["MONGO_URI"], tz_aware=True)
    return _clients[key][os.environ["MONGO_DB_NAME"]]


def rds():
    key = ("redis", os.getpid())
    if key not in _clients:
        _clients[key] = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _clients[key]


def floor_aid():
    return int(os.environ["BENCH_AID"])


def plain(value):
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def as_json(data, status=200):
    return Response(json.dumps(data, default=plain), status=status, mimetype="application/json")


def new_report(body):
    now = datetime.now(timezone.utc)
    return {"_id": ObjectId(), "aid": floor_aid(), "features": body.get("features"),
            "referenceId": body.get("referenceId"), "status": "queued", "batch": str(ObjectId()),
            "created_at": now, "updated_at": now}


@app.post("/reports")
def create_report():
    doc = new_report(request.get_json(force=True))
    db().floor_reports.insert_one(doc)
    Queue(FLOOR_QUEUE, connection=rds()).enqueue("bench.floor.score_one", str(doc["_id"]), result_ttl=3600)
    return as_json(doc, 201)


@app.get("/reports/<report_id>")
def read_report(report_id):
    doc = db().score_reports.find_one({"_id": ObjectId(report_id)})  # then the tenant, as the product reads
    if doc is None or doc.get("aid") != floor_aid():
        return as_json({"code": 404, "message": "not found"}, 404)
    return as_json(doc)


@app.get("/reports")
def list_reports():
    docs = list(db().score_reports.find({"aid": floor_aid()}).sort("created_at", -1).limit(100))
    return as_json(docs)


@app.post("/reports/wait")
def create_and_wait():
    doc = new_report(request.get_json(force=True))
    pubsub = rds().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"floor:scored:{doc['_id']}")
    try:
        db().floor_reports.insert_one(doc)
        Queue(FLOOR_QUEUE, connection=rds()).enqueue("bench.floor.score_one", str(doc["_id"]), result_ttl=3600)
        pubsub.get_message(timeout=30)
    finally:
        pubsub.close()
    return as_json(db().floor_reports.find_one({"_id": doc["_id"]}), 201)


_model = {}


def forget_model():
    _model.clear()


def floor_model():
    """The active model's booster and encoding, loaded once per worker process."""
    if not _model:
        import gridfs
        import xgboost as xgb

        doc = db().models.find_one({"aid": floor_aid(), "active": True})
        booster = xgb.Booster(params={"nthread": 1})
        booster.load_model(bytearray(gridfs.GridFSBucket(db(), "models").open_download_stream(doc["gridfs_id"]).read()))
        _model.update(booster=booster, features=doc["schema"]["features"])
    return _model


def encode(features, schema_features):
    """Category index or float per feature, NaN when missing: the least a model input needs."""
    import numpy as np

    row = np.full((1, len(schema_features)), np.nan, dtype=np.float32)
    for j, feature in enumerate(schema_features):
        value = features.get(feature["name"])
        if value is None:
            continue
        if feature["type"] == "categorical":
            try:
                row[0, j] = feature["categories"].index(str(value))
            except ValueError:
                pass
        else:
            row[0, j] = float(value)
    return row


def score_one(report_id):
    """The floor job: one read, one raw prediction, one write, one publish."""
    model = floor_model()
    oid = ObjectId(report_id)
    doc = db().floor_reports.find_one({"_id": oid})
    if doc is None:
        return
    proba = float(model["booster"].inplace_predict(encode(doc["features"] or {}, model["features"]))[0])
    db().floor_reports.update_one({"_id": oid}, {"$set": {"status": "processed", "scoreProbability": proba,
                                                          "updated_at": datetime.now(timezone.utc)}})
    rds().publish(f"floor:scored:{report_id}", "1")
