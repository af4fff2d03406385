"""Reads a client shapes (Strapi list filters, sorts and counts): bounded in time, heavy shapes priced.

From the moment a list query is parsed to the end of the request, every MongoDB operation runs under
``pymongo.timeout`` (``maiascore.costs.time_bound``): the server is sent that ``maxTimeMS`` and the
client waits no longer either; past it the answer is 503 naming the setting. A heavy shape (a
contains filter, a sort no ``(aid, field)`` index serves) also costs its group
(``maiascore.costs.heavy_read``) and gets the shorter heavy bound.

Services import the list query parser, and domain code loads no web framework: the request's
group is read from Flask only where something loaded it, as ``config.settings`` does.
"""
import sys
from contextlib import ExitStack
from contextvars import ContextVar

import pymongo
from bson.regex import Regex

from maiascore import costs
from maiascore.indexes import INDEXES

# Fields an index serves a group's sort on: the second key of an index that starts with ``aid``.
INDEXED_SORTS = frozenset({"_id"} | {keys[1] for models in INDEXES.values() for model in models
                                     for keys in [list(model.document["key"])] if len(keys) > 1 and keys[0] == "aid"})


def _has_pattern(node):
    if isinstance(node, Regex):
        return True
    if isinstance(node, dict):
        return "$regex" in node or any(_has_pattern(value) for value in node.values())
    if isinstance(node, list):
        return any(_has_pattern(value) for value in node)
    return False


def heavy_shape(list_query):
    """What makes a list query heavy, in words for a refusal; None when an index serves it."""
    if _has_pattern(list_query.filter):
        return "a contains filter"
    unindexed = [path for path, _ in list_query.sort if path not in INDEXED_SORTS]
    if unindexed:
        return f"a sort on {unindexed[0]!r}, which no index serves"
    return None


class _Bounds(ExitStack):
    heavy = False


_current = ContextVar("maiascore_read_bounds", default=None)


def _request_aid():
    """The account group the request guard resolved, when serving a request."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_request_context():
        return None
    return flask.g.get("aid")


def bound_list_query(list_query):
    """Bounds the rest of this request's reads; charges a heavy shape once per request."""
    aid = _request_aid()
    if aid is None:
        return list_query
    bounds = _current.get()
    if bounds is None:
        bounds = _Bounds()
        _current.set(bounds)
        bounds.enter_context(pymongo.timeout(costs.time_bound()[1] / 1000))
    what = heavy_shape(list_query)
    if what and not bounds.heavy:
        bounds.enter_context(costs.heavy_read(aid, f"a list query with {what}"))
        bounds.heavy = True
        bounds.enter_context(pymongo.timeout(costs.time_bound(heavy=True)[1] / 1000))
    return list_query


def release(exc=None):
    """After each request: the time bound lifted, a heavy read's slot given back."""
    bounds = _current.get()
    if bounds is not None:
        _current.set(None)
        bounds.close()


def bounded():
    """None when this request's reads run unbounded, else whether they run under the heavy bound."""
    bounds = _current.get()
    return None if bounds is None else bounds.heavy
