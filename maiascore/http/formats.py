"""Response formats: JSON by default, XML on request, decided once per request.

Precedence follows ThousandEyes: a ``.json``/``.xml`` path suffix (``/v6`` only),
then ``Accept``, then ``format=``. Views always produce JSON; the XML rendering is a
single after-request step so no view knows about it.

``/v7`` is JSON only, as ThousandEyes v7 is: it accepts ``application/hal+json``,
``application/json`` and ``application/problem+json`` (the official SDK sends the first)
and labels its answers ``application/hal+json``, its errors ``application/problem+json``.
"""
import functools
import json
import re
from xml.parsers import expat

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


# What XML 1.0 cannot carry at all, not even as a character reference (NUL, most C0 controls, lone
# surrogates, U+FFFE/U+FFFF): JSON answers keep such a character, XML answers show U+FFFD instead.
_ILLEGAL_XML_CHARS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAME_START = ("A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
               "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff")
_NOT_NAME_CHAR = re.compile(f"[^{_NAME_START}\\-.0-9\u00b7\u0300-\u036f\u203f-\u2040]")
_NAME_START_CHAR = re.compile(f"[{_NAME_START}]")


def _xml_text(text):
    return _ILLEGAL_XML_CHARS.sub("\ufffd", text)


def _xml_safe(value):
    if isinstance(value, dict):
        return {_xml_name(k): _xml_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_xml_safe(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return None
    return _xml_text(str(value))


_NOT_ASCII_NAME_CHAR = re.compile(r"[^A-Za-z0-9_.\-]")


def _xml_name(key):
    """An XML Name (no colon: no namespaces) for any key; ``x²`` or ``@role`` would break the document."""
    return _name(str(key))


def _expat_accepts(name):
    try:
        expat.ParserCreate().Parse(f"<{name}/>", True)
    except expat.ExpatError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _name(key):
    safe = _NOT_NAME_CHAR.sub("_", key)
    if not safe or not _NAME_START_CHAR.match(safe[0]):
        safe = "_" + safe
    if not _expat_accepts(safe):  # expat follows XML 1.0 4th edition: fewer letters than the 5th edition's ranges
        safe = _NOT_ASCII_NAME_CHAR.sub("_", safe)
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
