"""``GET /metrics`` for Prometheus, and the per-request measurements behind it.

A scrape is answered with ``Authorization: Bearer <METRICS_TOKEN>``, or without a token when it comes
straight from this machine (loopback, no forwarding header: behind a local reverse proxy every request
would look local). Anyone else gets 403.
"""
import hmac
import time

from flask import Blueprint, Response, g, request
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from config import settings
from maiascore import metrics
from maiascore.errors import Forbidden

blp = Blueprint("metrics", __name__)
LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-Ip")


def _may_scrape():
    token = settings().METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    return request.remote_addr in LOOPBACK and not any(h in request.headers for h in FORWARDING_HEADERS)


@blp.route("/metrics")
def scrape():
    if not _may_scrape():
        raise Forbidden("Metrics are for the scraper: send Authorization: Bearer <METRICS_TOKEN>, or scrape "
                        "from this machine")
    return Response(metrics.exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def record_request(response):
    """After every request: its route template (never the raw path), method, status and duration."""
    started = getattr(g, "started_at", None)
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    elapsed = time.perf_counter() - started if started else 0.0
    metrics.request_answered(route, request.method, response.status_code, elapsed)
    if response.status_code == 429:
        metrics.rate_limited(route)
    return response
