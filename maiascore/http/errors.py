"""One error shape for the whole API: ``{"code", "message"}`` (plus ``errors`` on validation).

Whatever goes wrong, including an unreachable database or queue, the client gets this
body in its negotiated format and never a stack trace. ``/v7`` speaks ThousandEyes v7
instead: RFC 7807 problem bodies (``{type, title, status, detail, instance}``, with
``errors: [{code, field, message}]`` on 400) and ``{error, error_description}`` on 401,
the shapes the official SDK parses into its exception classes.
"""
import logging
from http import HTTPStatus

import pymongo.errors
import redis.exceptions
from flask import g, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from maiascore import errors as domain
from maiascore.costs import query_timeout_message, spend_minute
from maiascore.http import bounds
from maiascore.http.formats import is_v7

log = logging.getLogger("maiascore.errors")
MAX_LISTED_ERRORS = 50


class ApiError(HTTPException):
    """An HTTP error with our message and optional headers or detail."""

    def __init__(self, code, message, errors=None, headers=None):
        super().__init__(description=message)
        self.code = code
        self.message = message
        self.errors = errors
        self.extra_headers = headers or {}


def abort(code, message, errors=None, headers=None):
    raise ApiError(code, message, errors=errors, headers=headers)


def validation_status():
    """ThousandEyes answers 400 to a malformed request; the Strapi routes 422."""
    return 400 if request.path.startswith("/v6") or is_v7() else 422


def _error_code(message):
    text = str(message).lower()
    if "missing data" in text or "required" in text:
        return "REQUIRED"
    if "unknown field" in text:
        return "UNKNOWN_FIELD"
    return "INVALID_VALUE"


def _field_errors(errors, path=""):
    """Marshmallow's nested ``{location: {field: [messages]}}`` as a flat v7 ``errors`` list."""
    if isinstance(errors, dict):
        items = []
        for key, value in errors.items():
            if path == "" and key in ("json", "query", "path", "form", "headers"):
                items += _field_errors(value, "")
            elif isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                items += _field_errors(value, f"{path}[{key}]")
            else:
                items += _field_errors(value, f"{path}.{key}" if path else str(key))
        return items
    if isinstance(errors, list) and all(isinstance(item, str) for item in errors):
        return [{"code": _error_code(message), "field": path or None, "message": message} for message in errors]
    if isinstance(errors, list):
        items = []
        for item in errors:
            if isinstance(item, dict) and "message" in item:  # already v7 items
                items.append({"code": item.get("code") or _error_code(item["message"]),
                              "field": item.get("field"), "message": item["message"]})
            else:
                items += _field_errors(item, path)
        return items
    return [{"code": _error_code(errors), "field": path or None, "message": str(errors)}]


def problem_body(code, message, errors=None):
    """The v7 error body for ``code``: OAuth style on 401, RFC 7807 otherwise."""
    if code == 401:
        return {"error": "invalid_token" if request.headers.get("Authorization") else "unauthorized",
                "error_description": message}
    try:
        title = HTTPStatus(code).phrase
    except ValueError:
        title = "Error"
    body = {"type": "about:blank", "title": title, "status": code, "detail": message,
            "instance": request.full_path.rstrip("?")}
    if code == 400:
        items = _field_errors(errors) if errors else []
        body["errors"] = [{k: v for k, v in item.items() if v is not None} for item in items] or [
            {"code": "INVALID_VALUE", "message": message}]
    return body


def validation_error(messages):
    return ApiError(validation_status(), "Request validation failed", errors=field_errors(messages))


def _is_item(value):
    return isinstance(value, dict) and isinstance(value.get("message"), str)


def _count(errors):
    if isinstance(errors, dict) and not _is_item(errors):
        return sum(_count(value) for value in errors.values())
    if isinstance(errors, (list, tuple)):
        return sum(_count(value) for value in errors)
    return 1


def _take(errors, budget):
    if isinstance(errors, dict) and not _is_item(errors):
        kept = {}
        for key, value in errors.items():
            if budget[0] <= 0:
                break
            kept[key] = _take(value, budget)
        return kept
    if isinstance(errors, (list, tuple)):
        kept = []
        for value in errors:
            if budget[0] <= 0:
                break
            kept.append(_take(value, budget))
        return kept
    budget[0] -= 1
    return errors


def bound_errors(errors, limit=MAX_LISTED_ERRORS):
    """``(the first `limit` messages in their nesting, how many there were)``: an answer never grows with
    the number of mistakes in a body."""
    total = _count(errors)
    return (errors if total <= limit else _take(errors, [limit])), total


def error_response(code, message, errors=None, headers=None):
    if errors:
        errors, total = bound_errors(errors)
        if total > MAX_LISTED_ERRORS:
            message = f"{message} ({total} errors; the first {MAX_LISTED_ERRORS} are listed)"
    if is_v7():
        if code == 401:
            headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="maiascore"'}
        payload = problem_body(code, message, errors)
    else:
        payload = {"code": code, "message": message}
        if errors:
            payload["errors"] = errors
    response = jsonify(payload)
    response.status_code = code
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


WEBARGS_LOCATIONS = frozenset({"json", "form", "json_or_form", "query", "querystring", "files", "headers",
                               "cookies", "view_args", "path"})


def field_errors(errors):
    """One shape for validation detail, field -> messages: webargs nests it under the location it read
    (``{"json": {"outcome": [...]}}``), a service's own check does not."""
    if isinstance(errors, dict) and errors and set(errors) <= WEBARGS_LOCATIONS:
        merged = {}
        for detail in errors.values():
            merged.update(detail if isinstance(detail, dict) else {"_schema": detail})
        return merged
    return errors


def handle_http_exception(error):
    if isinstance(error, ApiError):
        return error_response(error.code, error.message, error.errors, error.extra_headers)
    data = getattr(error, "data", None) or {}
    message = data.get("message") or error.description or error.name
    errors = field_errors(data.get("errors") or data.get("messages"))
    if error.code == 422 and errors:
        return error_response(validation_status(), "Request validation failed", errors)
    if error.code == 413:
        message = "Request body too large"
    elif error.code == 404 and message == "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.":
        message = f"Not found: {request.path}"
    elif error.code == 405:
        message = f"Method {request.method} not allowed on {request.path}"
    headers = dict(error.get_headers()) if hasattr(error, "get_headers") else {}
    headers.pop("Content-Type", None)
    return error_response(error.code, message, errors, headers)


def handle_domain_error(error):
    """The one place a domain error becomes an HTTP answer."""
    if isinstance(error, domain.Unprocessable):
        code = validation_status()
    else:
        code = domain.status_of(error)
    headers = {}
    if getattr(error, "retry_after", None) is not None:
        headers["Retry-After"] = str(error.retry_after)
    return error_response(code, error.message, field_errors(error.errors), headers)


def handle_query_timeout(error):
    """A read a client shaped ran past its time bound (MongoDB's maxTimeMS, or the client's own deadline);
    a heavy one spends its group's heavy-read minute."""
    heavy = bool(bounds.bounded())
    if heavy and g.get("aid") is not None:
        spend_minute(g.aid)
    return error_response(503, query_timeout_message(heavy), headers={"Retry-After": "5"})


def handle_unavailable(error):
    if getattr(error, "timeout", False) and bounds.bounded() is not None:
        return handle_query_timeout(error)
    log.warning("backend unavailable: %s", type(error).__name__)
    return error_response(503, "Service temporarily unavailable: a backing store is not answering; retry shortly",
                          headers={"Retry-After": "5"})


def handle_unexpected(error):
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unhandled error (request %s)", getattr(g, "request_id", "-"))
    return error_response(500, "Internal server error; the request id names it in our logs")


UNAVAILABLE_ERRORS = (
    pymongo.errors.ConnectionFailure,
    pymongo.errors.ServerSelectionTimeoutError,
    pymongo.errors.NetworkTimeout,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def register(app):
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(domain.DomainError, handle_domain_error)
    for exc in UNAVAILABLE_ERRORS:
        app.register_error_handler(exc, handle_unavailable)
    app.register_error_handler(pymongo.errors.ExecutionTimeout, handle_query_timeout)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
