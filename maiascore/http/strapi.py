"""Strapi v3 list queries and entry shape, shared by every Strapi-style resource.

``_limit``, ``_start``, ``_sort=field:ASC,other:DESC``; the filters (``field_op``, ``qs``
bracket arrays, ``_where`` with ``_or``) are converted by :mod:`maiascore.http.strapi_query`.
Only declared fields can be filtered or sorted, and every value is cast to the field's
type, so a query string can never smuggle a MongoDB operator (``{"$gt": ""}``) into a query.
"""
import re
from datetime import datetime
from typing import NamedTuple

from bson import ObjectId
from bson.errors import InvalidId

from maiascore.errors import Invalid, NotFound
from maiascore.http.bounds import bound_list_query
from maiascore.http.fields import query_integer
from maiascore.http.strapi_query import strapi_filter

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_START = 2**63 - 1
MAX_SEARCH_LENGTH = 100


class ListQuery(NamedTuple):
    """A parsed Strapi list query, what a route hands its service: a MongoDB filter made only of
    declared fields and cast values, a sort, and a page."""

    filter: dict
    sort: list
    skip: int
    limit: int


def parse_list_query(args, fields, base_filter, default_sort=(("created_at", -1),), search=()):
    """A :class:`ListQuery` from the query string; ``fields`` maps API name -> (db path, type);
    ``search``: the text fields Strapi's ``_q`` searches. The rest of the request's reads are bounded
    in time, and a heavy shape is charged (``maiascore.http.bounds``)."""
    query = strapi_filter(args, fields, base_filter)
    searched = search_filter(args.get("_q"), fields, search)
    if searched:
        query = {"$and": [query, searched]} if query else searched
    return bound_list_query(ListQuery(query, parse_sort(args.get("_sort"), fields, default_sort), parse_start(args),
                                      parse_limit(args)))


def search_filter(raw, fields, search):
    """Strapi's ``_q``: the entries one of whose ``search`` fields contains the text, in any case. It
    costs what a ``field_contains`` filter costs, on at most MAX_SEARCH_LENGTH characters."""
    if raw is None or raw == "":
        return None
    if not search:
        raise Invalid("This list has no text search (_q)")
    if len(raw) > MAX_SEARCH_LENGTH:
        raise Invalid(f"_q is at most {MAX_SEARCH_LENGTH} characters (MAX_SEARCH_LENGTH)")
    pattern = re.escape(raw)
    return {"$or": [{fields[name][0]: {"$regex": pattern, "$options": "i"}} for name in search]}


def parse_sort(raw, fields, default_sort):
    if not raw:
        return list(default_sort)
    sort = []
    for part in raw.split(","):
        name, _, direction = part.strip().partition(":")
        if name not in fields:
            raise Invalid(f"Cannot sort by {name!r}; sortable fields are {', '.join(sorted(fields))}")
        direction = (direction or "ASC").upper()
        if direction not in ("ASC", "DESC"):
            raise Invalid(f"Sort direction must be ASC or DESC, not {direction!r}")
        sort.append((fields[name][0], 1 if direction == "ASC" else -1))
    return sort


def parse_start(args):
    try:
        start = query_integer(args.get("_start", "0"))
    except ValueError:
        raise Invalid("_start must be an integer in ASCII digits")
    if not 0 <= start <= MAX_START:
        raise Invalid(f"_start must be between 0 and {MAX_START}")
    return start


def parse_limit(args):
    raw = args.get("_limit", str(DEFAULT_LIMIT))
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) > 18:
        return MAX_LIMIT  # more than the most is the most, as in Strapi
    try:
        limit = query_integer(raw, signed=True)
    except ValueError:
        raise Invalid("_limit must be an integer in ASCII digits")
    if limit == -1 or limit > MAX_LIMIT:
        return MAX_LIMIT
    if limit < 0:
        raise Invalid("_limit must be -1 or a positive integer")
    return limit


_OPENAPI_TYPES = {
    str: {"type": "string"},
    ObjectId: {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"},
    int: {"type": "integer", "format": "int64"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    datetime: {"type": "string", "format": "date-time"},
}


_COMPARED = ("ne", "lt", "lte", "gt", "gte")
_TEXT_OPERATORS = ("contains", "ncontains", "containss", "ncontainss")


def list_parameters(fields, default_sort="created_at:DESC", search=()):
    """OpenAPI query parameters of a Strapi list over ``fields`` (as :func:`parse_list_query` takes them):
    the page, the sort, ``_q`` when the list has ``search`` fields, and each filterable field with each
    of its operators (``score_gte``, ``uuid_in``...)."""
    names = ", ".join(sorted(fields))
    parameters = [
        {"in": "query", "name": "_limit", "required": False,
         "schema": {"type": "integer", "minimum": -1, "default": DEFAULT_LIMIT},
         "description": f"Page size; -1 or more than {MAX_LIMIT} means {MAX_LIMIT}"},
        {"in": "query", "name": "_start", "required": False, "schema": {"type": "integer", "minimum": 0,
                                                                        "default": 0},
         "description": "Entries to skip"},
        {"in": "query", "name": "_sort", "required": False, "schema": {"type": "string"},
         "description": f"`field:ASC` or `field:DESC`, comma-separated (default `{default_sort}`); "
                        f"sortable fields: {names}"},
    ]
    if search:
        parameters.append({"in": "query", "name": "_q", "required": False,
                           "schema": {"type": "string", "maxLength": MAX_SEARCH_LENGTH},
                           "description": f"Text search: entries whose {' or '.join(search)} contains it, "
                                          "in any case"})
    for name, (_, kind) in fields.items():
        schema = _OPENAPI_TYPES[kind]
        parameters.append(_parameter(name, schema, "Equals"))
        if kind is not bool:
            for operator in _COMPARED:
                parameters.append(_parameter(f"{name}_{operator}", schema, f"`{operator}` comparison"))
        for operator in ("in", "nin"):
            parameters.append(_parameter(f"{name}_{operator}", {"type": "string"},
                                         f"`{operator}`: comma-separated values (or `{name}_{operator}[]=` repeated)"))
        parameters.append(_parameter(f"{name}_null", {"type": "boolean"}, "true: has no value; false: has one"))
        if kind is str:
            for operator in _TEXT_OPERATORS:
                parameters.append(_parameter(f"{name}_{operator}", {"type": "string"},
                                             f"`{operator}`: contains (s: exact case; n: does not)"))
    return parameters


def _parameter(name, schema, description):
    return {"in": "query", "name": name, "required": False, "schema": dict(schema), "description": description}


def object_id(raw, what="Entry"):
    """Parses a path id; a malformed one is simply not found (ids leak nothing)."""
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise NotFound(f"{what} not found")


COUNT_DESCRIPTION = "Number of matching entries (Strapi's count)"
COUNT_DOC = {"responses": {"200": {"description": COUNT_DESCRIPTION,
                                   "content": {"application/json": {"schema": {"type": "integer"}}}}}}


def entry_fields(doc):
    """The fields every Strapi entry carries."""
    return {
        "id": str(doc["_id"]),
        "created_at": doc.get("created_at"),
        "updated_at": doc.get("updated_at"),
        "published_at": doc.get("published_at"),
        "created_by": doc.get("created_by"),
        "updated_by": doc.get("updated_by"),
    }
