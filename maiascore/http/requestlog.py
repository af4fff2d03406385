"""Request ids and one structured log line per request (never a body or a credential)."""
import json
import logging
import re
import sys
import time
import uuid

from flask import g, request

log = logging.getLogger("maiascore.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name,
                 "msg": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level):
    root = logging.getLogger("maiascore")
    if not any(getattr(h, "_maiascore", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._maiascore = True
        root.addHandler(handler)
        root.propagate = False
    root.setLevel(level)


def start_request():
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.started_at = time.perf_counter()


def finish_request(response):
    response.headers["X-Request-Id"] = getattr(g, "request_id", "")
    started = getattr(g, "started_at", None)
    user = getattr(g, "user", None)
    log.info("request", extra={"fields": {
        "request_id": getattr(g, "request_id", None),
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
        "user": user["_id"] if user else None,
        "aid": getattr(g, "aid", None),
    }})
    return response
