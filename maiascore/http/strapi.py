"""Strapi v3 list queries and entry shape, shared by every Strapi-style resource.

``_limit``, ``_start``, ``_sort=field:ASC,other:DESC``; the filters (``field_op``, ``qs``
bracket arrays, ``_where`` with ``_or``) are converted by :mod:`maiascore.http.strapi_query`.
Only declared fields can be filtered or sorted, and every value is cast to the field's
type, so a query string can never smuggle a MongoDB operator (``{"$gt": ""}``) into a query.
"""
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


class ListQuery(NamedTuple):
    """A parsed Strapi list query, what a route hands its service: a MongoDB filter made only of
    declared fields and cast values, a sort, and a page."""

    filter: dict
    sort: list
    skip: int
    limit: int


def parse_list_query(args, fields, base_filter, default_sort=(("created_at", -1),)):
    """A :class:`ListQuery` from the query string; ``fields`` maps API name -> (db path, type). The rest of
    the request's reads are bounded in time, and a heavy shape is charged (``maiascore.http.bounds``)."""
    query = strapi_filter(args, fields, base_filter)
    return bound_list_query(ListQuery(query, parse_sort(args.get("_sort"), fields, default_sort), parse_start(args),
                                      parse_limit(args)))


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
    try:
        limit = query_integer(args.get("_limit", str(DEFAULT_LIMIT)), signed=True)
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


def list_parameters(fields, default_sort="created_at:DESC"):
    """OpenAPI query parameters of a Strapi list over ``fields`` (as :func:`parse_list_query` takes them):
    the page, the sort, and one parameter per filterable field with its operators described (listing
    every ``field_op`` spelling would be ten parameters a field)."""
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
    for name, (_, kind) in fields.items():
        operators = (f"`{name}=v` equals; `{name}_ne`, `{name}_lt`, `{name}_lte`, `{name}_gt`, `{name}_gte` "
                     f"compare; `{name}_in`, `{name}_nin` take a comma-separated list; "
                     f"`{name}_null=true|false` tests for a missing value")
        if kind is str:
            operators += f"; `{name}_contains` (any case), `{name}_containss` (exact case) search the text"
        parameters.append({"in": "query", "name": name, "required": False, "schema": dict(_OPENAPI_TYPES[kind]),
                           "description": operators})
    return parameters


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
