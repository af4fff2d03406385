"""Strapi v3 query strings, parsed as Strapi parses them and turned into a safe MongoDB filter.

Strapi v3 reads the query string with ``qs`` and converts it with strapi-utils'
``convertRestQueryParams`` and the mongoose connector's ``buildWhereClause``. Its official
JavaScript SDK writes arrays and nested objects the ``qs`` way (``uuid_in[0]=a&uuid_in[1]=c``,
``_where[1][_or][0][status]=queued``), so a server that only reads flat keys cannot serve it.

This module does both steps in plain Python:

- :func:`parse_qs_nested` builds the nested value ``qs`` would: ``a[0]=x`` / ``a[]=x`` arrays,
  ``a[b]=x`` objects, repeated keys combined into a list. Unlike ``qs``, which silently turns
  what exceeds its bounds into literal keys or drops it, every bound answers
  :class:`~maiascore.errors.Invalid` naming it: at most ``MAX_DEPTH`` (5, qs's ``depth``) bracket
  levels, ``MAX_PARAMS`` (1000, qs's ``parameterLimit``) pairs, array indexes up to
  ``MAX_INDEX`` (100; qs's ``arrayLimit`` is 20) and ``MAX_VALUES`` (1000) values in one filter.
- :func:`strapi_filter` converts it: top-level filters and ``_where`` (an object or a list) are
  ANDed, ``_or`` (and v3.6's ``_and``) take a list of groups, each group an AND of its filters,
  the operators are ``_eq _ne _lt _lte _gt _gte _in _nin _contains _ncontains _containss
  _ncontainss _null``. A list given to any other operator than ``_in``/``_nin`` (``status=a&status=b``)
  matches any of its values, as in Strapi; ``_in``/``_nin`` also accept ``a,b``.

Only declared fields can be filtered and every value is cast to the field's type, so nothing a
client sends can become a MongoDB operator (``score[$gt]=``, ``$where=``, ``a.b=``): the filter's
keys are only the declared database paths and the operators written here.
"""
import math
import re
from datetime import datetime, timezone
from urllib.parse import unquote_plus

from bson import ObjectId
from bson.errors import InvalidId
from bson.regex import Regex

from maiascore.errors import Invalid

MAX_DEPTH = 5
MAX_PARAMS = 1000
MAX_INDEX = 100
MAX_VALUES = 1000
MAX_TEXT_FILTER = 200  # characters of a contains filter: its escaped pattern stays within MongoDB's regex bounds
RESERVED = frozenset({"_limit", "_start", "_sort", "_q", "aid", "format", "wait"})
OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "contains", "ncontains", "containss", "ncontainss",
             "null")
COMPARISONS = {"ne": "$ne", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}
TEXT_OPERATORS = {"contains": (False, "i"), "containss": (False, ""), "ncontains": (True, "i"),
                  "ncontainss": (True, "")}
BOOLEANS = ("_or", "_and")

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_INDEX = re.compile(r"0|[1-9][0-9]*")


# -- qs parsing ---------------------------------------------------------------------------------

class _Values(list):
    """Scalar values given to one key (``a=1&a=2``); a single one stays a plain string."""


class _Array(dict):
    """``a[3]=x`` / ``a[]=y`` while parsing: index -> child; becomes a compact list like qs's."""


class Items(list):
    """A parsed array; ``indexes`` keeps the indexes the client wrote, so errors name them."""

    def __init__(self, items=(), indexes=None):
        super().__init__(items)
        self.indexes = list(indexes) if indexes is not None else list(range(len(self)))


def _split_key(key):
    """``a[b][0]`` -> ``("a", ["b", "0"])``; malformed brackets are refused rather than guessed."""
    start = key.find("[")
    if start == -1:
        if "]" in key:
            raise Invalid(f"Malformed query key {key!r}: unbalanced brackets")
        return key, []
    root, rest = key[:start], key[start:]
    if not root:
        raise Invalid(f"Malformed query key {key!r}: a name must come before the brackets")
    if "]" in root:
        raise Invalid(f"Malformed query key {key!r}: unbalanced brackets")
    segments, position = [], 0
    for match in _SEGMENT.finditer(rest):
        if match.start() != position:
            break
        segments.append(match.group(1))
        position = match.end()
    if position != len(rest):
        raise Invalid(f"Malformed query key {key!r}: brackets must be like name[key][0][]")
    if len(segments) > MAX_DEPTH:
        raise Invalid(f"Query key {key!r} nests {len(segments)} levels; at most {MAX_DEPTH} (MAX_DEPTH) are allowed")
    return root, segments


def _pairs(query):
    if isinstance(query, (str, bytes)):
        text = query.decode("utf-8", "replace") if isinstance(query, bytes) else query
        text = text[1:] if text.startswith("?") else text
        parts = [part for part in text.split("&") if part]
        if len(parts) > MAX_PARAMS:
            raise Invalid(f"The query string has {len(parts)} parameters; at most {MAX_PARAMS} (MAX_PARAMS) "
                          "are allowed")
        pairs = []
        for part in parts:
            # qs splits at "]=" when present so that a "=" inside brackets stays in the key.
            cut = part.find("]=")
            cut = cut + 1 if cut != -1 else part.find("=")
            key, value = (part, "") if cut == -1 else (part[:cut], part[cut + 1:])
            pairs.append((unquote_plus(key), unquote_plus(value)))
        return pairs
    if hasattr(query, "getlist"):  # werkzeug's MultiDict: every value of every key, not the first
        query = query.items(multi=True)
    pairs = []
    for key, value in query:
        pairs.append((key, value))
        if len(pairs) > MAX_PARAMS:
            raise Invalid(f"The query string has more than {MAX_PARAMS} parameters (MAX_PARAMS)")
    return pairs


def _merge(node, segments, value, label):
    """Places ``value`` at ``segments`` below ``node`` (None, _Values, _Array or dict)."""
    if not segments:
        if node is None:
            return _Values([value])
        if isinstance(node, _Values):
            node.append(value)
            return node
        if isinstance(node, _Array):
            node[max(node, default=-1) + 1] = _Values([value])
            return node
        raise Invalid(f"Query key {label!r} is given both a value and nested keys")
    segment, rest = segments[0], segments[1:]
    if segment == "" or _INDEX.fullmatch(segment):
        if node is None:
            node = _Array()
        elif isinstance(node, _Values):
            node = _Array(enumerate(_Values([v]) for v in node))
        elif not isinstance(node, _Array):
            raise Invalid(f"Query key {label!r} mixes array indexes and object keys")
        if segment == "":
            index = max(node, default=-1) + 1
        else:
            index = int(segment)
        if index > MAX_INDEX:
            raise Invalid(f"Array index {index} in {label!r} exceeds {MAX_INDEX} (MAX_INDEX)")
        node[index] = _merge(node.get(index), rest, value, label)
        return node
    if node is None:
        node = {}
    elif isinstance(node, (_Array, _Values)) or not isinstance(node, dict):
        raise Invalid(f"Query key {label!r} mixes array indexes and object keys")
    node[segment] = _merge(node.get(segment), rest, value, label)
    return node


def _finish(node):
    if isinstance(node, _Values):
        return node[0] if len(node) == 1 else list(node)
    if isinstance(node, _Array):
        items = Items()
        for index in sorted(node):
            child = node[index]
            if isinstance(child, _Values) and len(child) > 1:
                items.extend(child)  # qs pushes a repeated index's values one after the other
                items.indexes.extend([index] * len(child))
            else:
                items.append(_finish(child))
                items.indexes.append(index)
        return items
    return {key: _finish(child) for key, child in node.items()}


def parse_qs_nested(query):
    """The nested value ``qs.parse`` gives Strapi, from a raw query string (percent-encoded, as
    the SDK sends it), decoded ``(key, value)`` pairs, or ``request.args`` (every value is read).

    Leaves are strings; a key given several times maps to a list of strings."""
    tree = {}
    for key, value in _pairs(query):
        root, segments = _split_key(key)
        tree[root] = _merge(tree.get(root), segments, value, key)
    return {key: _finish(node) for key, node in tree.items()}


# -- conversion to a MongoDB filter --------------------------------------------------------------

def _cast(kind, label, raw):
    """A query value as the field's type; anything else is refused with the filter's name."""
    if not isinstance(raw, str):
        raise Invalid(f"Filter {label!r} takes a value, not nested keys")
    try:
        if kind is str:
            return raw
        if kind is int:
            if not _INTEGER.fullmatch(raw):
                raise ValueError(raw)
            value = int(raw)
            if not -(2**63) <= value < 2**63:
                raise ValueError(raw)
            return value
        if kind is float:
            if not _DECIMAL.fullmatch(raw):
                raise ValueError(raw)
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError(raw)
            return value
        if kind is bool:
            lowered = raw.lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0"):
                return False
            raise ValueError(raw)
        if kind is datetime:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        if kind is ObjectId:
            return ObjectId(raw)
    except (ValueError, TypeError, InvalidId, OverflowError):
        raise Invalid(f"Invalid value {raw!r} for filter {label!r}")
    raise TypeError(f"Unsupported field type {kind!r}")


def _split_operator(key):
    """``score_gte`` -> ``("score", "gte")``; like Strapi, a suffix that is no operator is part of
    the name (``created_at``)."""
    name, sep, operator = key.rpartition("_")
    if sep and name and operator in OPERATORS:
        return name, operator
    return key, "eq"


def _scalar_clause(path, kind, operator, label, raw):
    if operator == "null":
        return {path: None} if _cast(bool, label, raw) else {path: {"$ne": None}}
    if operator in TEXT_OPERATORS:
        if kind is not str:
            raise Invalid(f"Filter {label!r}: contains filters apply to text fields only")
        negated, options = TEXT_OPERATORS[operator]
        text = _cast(str, label, raw)
        if len(text) > MAX_TEXT_FILTER:
            raise Invalid(f"Filter {label!r} takes at most {MAX_TEXT_FILTER} characters (MAX_TEXT_FILTER)")
        pattern = re.escape(text).replace("\x00", "\\x00")  # a BSON regex cannot hold a NUL byte
        if negated:
            return {path: {"$not": Regex(pattern, options)}}
        return {path: {"$regex": pattern, "$options": options}}
    value = _cast(kind, label, raw)
    if operator == "eq":
        return {path: value}
    return {path: {COMPARISONS[operator]: value}}


def _in_values(kind, label, value):
    raws = value if isinstance(value, list) else [value]
    items = []
    for raw in raws:
        if not isinstance(raw, str):
            raise Invalid(f"Filter {label!r} takes a list of values, not nested keys")
        items.extend(part for part in raw.split(",") if part != "")
        if len(items) > MAX_VALUES:
            raise Invalid(f"Filter {label!r} has more than {MAX_VALUES} values (MAX_VALUES)")
    return [_cast(kind, label, item) for item in items]


def _field_clause(key, value, fields, label):
    name, operator = _split_operator(key)
    if name not in fields or key.startswith("$"):
        raise Invalid(f"Unknown filter {label!r}; filterable fields are {', '.join(sorted(fields))}")
    path, kind = fields[name]
    if isinstance(value, dict):
        raise Invalid(f"Filter {label!r} takes a value, not nested keys")
    if operator in ("in", "nin"):
        return {path: {"$" + operator: _in_values(kind, label, value)}}
    if isinstance(value, list):
        if len(value) > MAX_VALUES:
            raise Invalid(f"Filter {label!r} has more than {MAX_VALUES} values (MAX_VALUES)")
        if not value:
            raise Invalid(f"Filter {label!r} needs a value")
        clauses = [_scalar_clause(path, kind, operator, label, raw) for raw in value]
        return clauses[0] if len(clauses) == 1 else {"$or": clauses}
    return _scalar_clause(path, kind, operator, label, value)


def _groups(value, fields, label):
    """The groups of ``_or`` / ``_and``: a list (or a single object), each an AND of filters."""
    groups = value if isinstance(value, list) else [value]
    converted = []
    for index, group in zip(_indexes(groups), groups):
        clauses = _where_clauses(group, fields, f"{label}[{index}]")
        if not clauses:
            raise Invalid(f"{label!r} has an empty condition")
        converted.append(clauses[0] if len(clauses) == 1 else {"$and": clauses})
    if not converted:
        raise Invalid(f"{label!r} needs at least one condition")
    return converted


def _indexes(items):
    return getattr(items, "indexes", range(len(items)))


def _where_clauses(node, fields, label):
    """``convertWhereParams``: a list is the concatenation of its items, an object one filter per key."""
    if isinstance(node, list):
        clauses = []
        for index, item in zip(_indexes(node), node):
            clauses.extend(_where_clauses(item, fields, f"{label}[{index}]"))
        return clauses
    if not isinstance(node, dict):
        raise Invalid(f"{label!r} must be an object of filters or a list of them, not a single value")
    clauses = []
    for key, value in node.items():
        child = f"{label}[{key}]" if label else key
        if key in BOOLEANS:
            clauses.append({"$" + key[1:]: _groups(value, fields, child)})
        else:
            clauses.append(_field_clause(key, value, fields, child))
    return clauses


def convert_params(params, fields, reserved=RESERVED):
    """``convertRestQueryParams`` + ``buildWhereClause``: the MongoDB conditions (to be ANDed) of
    already nested params (:func:`parse_qs_nested`'s output); ``fields`` maps API name ->
    (db path, type); ``reserved`` keys (paging, sort, ``aid``...) are left to the caller."""
    clauses = []
    for key, value in params.items():
        if key in reserved:
            continue
        if key == "_where":
            clauses.extend(_where_clauses(value, fields, "_where"))
        else:
            clauses.extend(_where_clauses({key: value}, fields, ""))
    return clauses


def strapi_filter(query, fields, base_filter=None, reserved=RESERVED):
    """A MongoDB filter for a Strapi v3 query, ANDed with ``base_filter`` (the account group, say).

    ``query`` is the raw query string, decoded ``(key, value)`` pairs, or a multi-valued mapping
    with ``items(multi=True)`` such as ``request.args``. Returns the base filter (``{}`` without
    one) when nothing filters."""
    clauses = convert_params(parse_qs_nested(query), fields, reserved)
    base = dict(base_filter or {})
    if not clauses:
        return base
    if base:
        return {"$and": [base, *clauses]}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
