"""marshmallow fields for the shapes the API's existing clients send, and the strict JSON reading they share
with the request bodies."""
import json
import math
import re

import marshmallow as ma

from config import settings

# Integers in a query string: ASCII digits, at most 18 (so int() never balks and 64 bits hold it). int()
# alone also reads "１２", "١٢", "1_2" and " 12", which no client sends meaning a number.
_QUERY_INTEGER = re.compile(r"[0-9]{1,18}")
_QUERY_SIGNED_INTEGER = re.compile(r"-?[0-9]{1,18}")

# A lone surrogate or a NUL can only enter through a \u escape: when none is there, nothing is walked.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")


class UnsafeJSON(ValueError):
    """JSON that parses but cannot be kept; ``path`` (keys and indexes) names where, ``status`` says
    whether the text itself is at fault (400) or a value in it (422, as a field error)."""

    def __init__(self, message, path=(), status=422):
        super().__init__(message)
        self.message, self.path, self.status = message, tuple(path), status


def _reject_constant(token):
    raise UnsafeJSON(f"{token} is not valid JSON", status=400)


def _storable(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _first_unsafe(data):
    """(path, reason) of the first value nobody can store: an infinite number, a lone surrogate, a NUL in a key."""
    stack = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return path, "Numbers must be finite; this one is beyond the range of a double."
        if isinstance(value, str) and not _storable(value):
            return path, "Texts must be valid Unicode; this one holds a lone surrogate (\\ud800-\\udfff)."
        if isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                if not _storable(key) or "\x00" in key:
                    return (*path, key.encode("utf-8", "replace").decode("utf-8")), \
                        "Names must be valid Unicode without NUL characters."
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in reversed(list(enumerate(value))))
    return None


def strict_json(text, max_keys=None):
    """Parse JSON refusing what would be stored wrongly or answered as invalid JSON later.

    NaN/Infinity are not JSON; ``1e999`` is JSON but becomes infinity; ``"\\ud800"`` is JSON but no
    UTF-8 text; an object of a million keys costs a million validation errors. Each raises
    :class:`UnsafeJSON` (``ValueError``, ``RecursionError`` for malformed or too deep texts).
    """
    max_keys = settings().MAX_BODY_KEYS if max_keys is None else max_keys
    overflow = []

    def number(token):
        value = float(token)
        if math.isinf(value):
            overflow.append(token)
        return value

    def bounded(pairs):
        if len(pairs) > max_keys:
            raise UnsafeJSON(f"An object in the JSON text has {len(pairs)} keys; at most {max_keys} are accepted "
                             "(MAX_BODY_KEYS)", status=400)
        return dict(pairs)

    data = json.loads(text, parse_constant=_reject_constant, parse_float=number, object_pairs_hook=bounded)
    if overflow or _SUSPECT_ESCAPE.search(text):
        found = _first_unsafe(data)
        if found:
            raise UnsafeJSON(found[1], found[0])
    return data


class JSONObject(ma.fields.Field):
    """An object sent either as an object or as a JSON text (existing clients send ``meta`` as a string).

    Deserialises to a dict; ``context_key`` callers can keep whether it came as text.
    """

    default_error_messages = {"invalid": "Must be an object or a JSON text encoding an object."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text == "":
                return {}
            try:
                parsed = strict_json(text)
            except UnsafeJSON as exc:
                where = ".".join(str(part) for part in exc.path)
                raise ma.ValidationError(f"{exc.message}{f' (at {where})' if where else ''}")
            except (ValueError, RecursionError):
                raise self.make_error("invalid")
            if isinstance(parsed, dict):
                return parsed
        raise self.make_error("invalid")

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class Ignored(ma.fields.Raw):
    """A field the contract lets clients send but the server computes: accepted, then dropped."""

    def __init__(self, **kwargs):
        kwargs.setdefault("load_only", True)
        kwargs.setdefault("metadata", {"description": "Computed by the server; any value sent is ignored"})
        super().__init__(**kwargs)


def query_integer(raw, signed=False):
    """``raw`` (a query-string value) as an int if it is ASCII digits (``signed``: after an optional
    ``-``); else ``ValueError``."""
    if not isinstance(raw, str) or not (_QUERY_SIGNED_INTEGER if signed else _QUERY_INTEGER).fullmatch(raw):
        raise ValueError(f"not an integer in ASCII digits: {raw!r}")
    return int(raw)


class QueryInteger(ma.fields.Integer):
    """An integer read from a query string: ASCII digits only (see :func:`query_integer`)."""

    default_error_messages = {"invalid": "Not a valid integer (ASCII digits only)."}

    def __init__(self, *, signed=False, **kwargs):
        super().__init__(**kwargs)
        self.signed = signed

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return query_integer(value, signed=self.signed)
        except ValueError:
            raise self.make_error("invalid")
