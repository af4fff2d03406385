"""Request bodies in every encoding the API's existing clients send, parsed once per request.

JSON, XML (``<item>`` or ``<items><item/>...``), form-encoded (including a JSON text
sent under the form content type, as generated client snippets do) and multipart all end up
as the same Python structure, which marshmallow then types. XML with a DTD is refused
before parsing, which shuts out entity expansion, external entities and injected default
attributes. Every object (JSON, XML element, form) holds at most MAX_BODY_KEYS keys, so a
body of a million unknown keys costs one short 400, not a million validation errors; JSON
numbers beyond a double and lone surrogates are refused here, before anything stores them.
"""
import re

import xmltodict
from flask import g, request
from webargs.core import missing as _MISSING_WEBARGS
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from config import settings
from maiascore.errors import TooLarge
from maiascore.http.errors import ApiError, validation_error, validation_status
from maiascore.http.fields import UnsafeJSON, strict_json
from maiascore.http.formats import XML_TYPES

_MISSING = object()
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _decode(raw):
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("Request body is not valid UTF-8")


# expat honours a declaration wherever it stands (after a 5 KB comment too), so the whole text is searched.
_DECLARATION = re.compile(r"<!\s*(?:DOCTYPE|ENTITY|ATTLIST|ELEMENT)", re.IGNORECASE)


def _too_many_keys(limit):
    return BadRequest(f"An object in the body has more than {limit} keys; at most {limit} are accepted "
                      "(MAX_BODY_KEYS)")


def _nested(path, message):
    errors = [message]
    for part in reversed(path):
        errors = {part: errors}
    return errors


def parse_json_text(text):
    try:
        return strict_json(text, settings().MAX_BODY_KEYS)
    except UnsafeJSON as exc:
        if exc.status == 400:
            raise BadRequest(f"Malformed JSON body: {exc.message}")
        where = ".".join(str(part) for part in exc.path) or "body"
        raise ApiError(validation_status(), f"Request validation failed: {where}: {exc.message}",
                       errors=_nested(exc.path, exc.message) if exc.path else None)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"Malformed JSON body: {exc}")


class _TooManyKeys(Exception):
    pass


def _bounded_dict(limit):
    """The dict xmltodict builds elements with, refusing the key past ``limit`` (children or attributes)."""

    class BoundedDict(dict):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if len(self) > limit:
                raise _TooManyKeys()

        def __setitem__(self, key, value):
            if len(self) >= limit and key not in self:
                raise _TooManyKeys()
            super().__setitem__(key, value)

    return BoundedDict


def parse_xml_text(text):
    if _DECLARATION.search(text):
        raise BadRequest("XML with a DOCTYPE or entity declarations is not accepted")
    limit = settings().MAX_BODY_KEYS
    try:
        doc = xmltodict.parse(text, disable_entities=True, force_cdata=False, dict_constructor=_bounded_dict(limit))
    except _TooManyKeys:
        raise _too_many_keys(limit)
    except Exception as exc:  # expat raises several unrelated types
        raise BadRequest(f"Malformed XML body: {exc}")
    if not isinstance(doc, dict) or len(doc) != 1:
        raise BadRequest("XML body must have exactly one root element")
    root_name, root = next(iter(doc.items()))
    if root_name == "items":
        items = (root or {}).get("item", []) if isinstance(root, dict) else []
        return items if isinstance(items, list) else [items]
    return root if root is not None else {}


def _form_fields():
    data = {}
    limit = settings().MAX_BODY_KEYS
    if len(request.form) > limit:
        raise _too_many_keys(limit)
    for key in request.form.keys():
        values = request.form.getlist(key)
        data[key] = values if len(values) > 1 else values[0]
    return data


def request_body():
    """The request body as Python data, or ``None`` when there is none."""
    cached = getattr(g, "_request_body", _MISSING)
    if cached is not _MISSING:
        return cached
    g._request_body = body = _parse_body()
    return body


def _not_null(body):
    """A JSON ``null`` body is a value no operation takes; refused rather than read as no body."""
    if body is None:
        raise ApiError(validation_status(), "The request body is null: send an object (or a list where one "
                                            "is accepted)")
    return body


def require_body():
    """The request body, which the operation's document calls required: absent answers 422 (400 on /v6, /v7)."""
    body = request_body()
    if body is None:
        raise ApiError(validation_status(), "A request body is required",
                       errors={"_schema": ["Missing data: a request body is required."]})
    return body


def _parse_body():
    mimetype = request.mimetype or ""
    if mimetype == "multipart/form-data":
        return _form_fields()
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return _not_null(parse_json_text(_decode(raw)))
    if mimetype in XML_TYPES or mimetype.endswith("+xml"):
        return parse_xml_text(_decode(raw))
    if mimetype == "application/x-www-form-urlencoded" or mimetype == "":
        text = _decode(raw)
        stripped = text.lstrip()
        if stripped[:1] in ("{", "["):
            return parse_json_text(text)
        if mimetype == "" and stripped == "null":
            return _not_null(None)
        if stripped.startswith("<"):
            return parse_xml_text(text)
        if mimetype == "":
            raise UnsupportedMediaType("A request body needs a Content-Type")
        return _form_fields()
    raise UnsupportedMediaType(
        f"Unsupported body type {mimetype!r}: send application/json, application/xml, "
        "text/xml, application/x-www-form-urlencoded or multipart/form-data")


def body_at_most(setting, what):
    """A ``before_request`` hook: a body longer than ``settings().<setting>`` bytes answers 413 naming the
    setting before anything parses it. A body sent without a length (chunked) is read up to the bound only."""

    def check():
        limit = getattr(settings(), setting)
        request.max_content_length = limit
        length = request.content_length
        if length is not None and length > limit:
            raise TooLarge(f"A request body of {length} bytes is too large for {what}; at most {limit} bytes "
                           f"are accepted ({setting})")
        if length is None:
            try:
                request.get_data(cache=True)
            except RequestEntityTooLarge:
                raise TooLarge(f"The request body is too large for {what}; at most {limit} bytes are accepted "
                               f"({setting})")

    return check


class BodyParser(FlaskParser):
    """webargs parser whose ``json`` location is the negotiated body, whatever its encoding."""

    DEFAULT_VALIDATION_STATUS = 422

    def load_json(self, req, schema):
        body = request_body()
        if body is None:
            return _MISSING_WEBARGS
        return body

    def load_json_or_form(self, req, schema):
        return self.load_json(req, schema)

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        raise validation_error(error.messages)
