"""Response formats: JSON by default, XML on request, decided once per request.

Precedence follows ThousandEyes: a ``.json``/``.xml`` path suffix (``/v6`` only),
then ``Accept``, then ``format=``. Views always produce JSON; the XML rendering is a
single after-request step so no view knows about it.

``/v7`` is JSON only, as ThousandEyes v7 is: it accepts ``application/hal+json``,
``application/json`` and ``application/problem+json`` (the official SDK sends the first)
and labels its answers ``application/hal+json``, its errors ``application/problem+json``.
"""
import json

import xmltodict
from flask import g, request
from werkzeug.exceptions import NotAcceptable

JSON = "json"
XML = "xml"
XML_TYPES = ("application/xml", "text/xml")
HAL_JSON = "application/hal+json"
PROBLEM_JSON = "application/problem+json"
V7_TYPES = (HAL_JSON, "application/json", PROBLEM_JSON)
SUFFIX_ENV_KEY = "maiascore.format_suffix"


class FormatSuffixMiddleware:
    """Strips ``.json``/``.xml`` from ``/v6`` paths before routing and remembers it."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/v6/"):
            for suffix in (JSON, XML):
                if path.endswith("." + suffix):
                    environ["PATH_INFO"] = path[: -len(suffix) - 1]
                    environ[SUFFIX_ENV_KEY] = suffix
                    break
        return self.wsgi_app(environ, start_response)


def is_v7():
    return request.path == "/v7" or request.path.startswith("/v7/")


def _from_accept():
    accept = request.accept_mimetypes
    if not accept or accept.provided is False or str(accept) in ("", "*/*"):
        return None
    if is_v7():
        return JSON if accept.best_match(V7_TYPES) else "unacceptable"
    best = accept.best_match(["application/json", *XML_TYPES])
    if best is None:
        return "unacceptable"
    if best in XML_TYPES:
        return XML
    return JSON


def response_format():
    """The negotiated format; raises 406 when ``Accept`` names nothing we can produce."""
    cached = getattr(g, "_response_format", None)
    if cached:
        return cached
    fmt = request.environ.get(SUFFIX_ENV_KEY)
    if fmt is None:
        accepted = _from_accept()
        if accepted == "unacceptable":
            g._response_format = JSON  # the 406 itself is sent as JSON
            if is_v7():
                raise NotAcceptable(f"Acceptable formats are {', '.join(V7_TYPES)}")
            raise NotAcceptable("Acceptable formats are application/json, application/xml and text/xml")
        fmt = accepted
    if fmt is None and is_v7():
        fmt = JSON
    if fmt is None:
        wanted = (request.args.get("format") or "").lower()
        fmt = XML if wanted == XML else JSON
    g._response_format = fmt
    return fmt


def _xml_safe(value):
    if isinstance(value, dict):
        return {_xml_name(k): _xml_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_xml_safe(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return None
    return str(value)


def _xml_name(key):
    key = str(key)
    safe = "".join(c if c.isalnum() or c in "_-." else "_" for c in key)
    if not safe or not (safe[0].isalpha() or safe[0] == "_"):
        safe = "_" + safe
    return safe


def to_xml(data, root=None):
    """Objects become ``<item>``; lists ``<items><item/>...</items>``; errors ``<error>``."""
    if isinstance(data, list):
        body = {"items": {"item": _xml_safe(data)}}
    else:
        body = {root or "item": _xml_safe(data)}
    return xmltodict.unparse(body, pretty=False, full_document=True)


def _label_v7(response):
    """v7 answers are HAL documents and its errors problem documents (its 401 is OAuth style)."""
    if response.status_code < 400:
        response.mimetype = HAL_JSON
    elif response.status_code != 401:
        response.mimetype = PROBLEM_JSON
    return response


def render_negotiated(response):
    """After-request hook: re-render JSON bodies as XML when XML was negotiated."""
    if response.direct_passthrough or response.mimetype != "application/json":
        return response
    if is_v7():
        return _label_v7(response)
    try:
        fmt = response_format()
    except NotAcceptable:
        return response
    if fmt != XML:
        return response
    raw = response.get_data()
    if not raw:
        return response
    data = json.loads(raw)
    root = "error" if response.status_code >= 400 and isinstance(data, dict) and "code" in data else None
    response.set_data(to_xml(data, root=root).encode("utf-8"))
    response.mimetype = "application/xml"
    response.charset = "utf-8"
    return response


def negotiate_early():
    """Before-request hook: refuse an unmeetable ``Accept`` before doing any work."""
    response_format()
