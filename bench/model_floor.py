"""The bare model-server floor: what a model server such as MLflow's does per request.

A minimal WSGI app (no framework) under the same gunicorn settings as the product: it loads the
account group's active booster once per process, as the floor worker does, and answers
``POST /invocations`` with one row's probability from ``inplace_predict``; nothing is stored,
queued or explained. The product's ``POST /reports?wait`` (stored, queued, scored by a worker,
explained, persisted) is reported as a ratio to it.
"""
import json

from bench.floor import encode, floor_model


def app(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":
        start_response("405 Method Not Allowed", [("Content-Type", "application/json")])
        return [b'{"code": 405}']
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    model = floor_model()
    proba = float(model["booster"].inplace_predict(encode(body.get("features") or {}, model["features"]))[0])
    payload = json.dumps({"scoreProbability": proba}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]
