"""Prometheus metrics of every process: the web workers record requests, the RQ workers scoring and
trainings, and ``GET /metrics`` (``maiascore.http.metrics``) shows them all.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``make run`` sets it under VAR_DIR and empties it at start)
``prometheus_client`` keeps each process's values in files there and a scrape adds them up, so
every gunicorn worker and every RQ worker counts. Without it, a scrape shows its own process.

Labels stay bounded: a route is its template (``/reports/<report_id>``), never a path; a model
version is the group's version number; no label holds anything a tenant sent.
"""
import time

import redis.exceptions
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY
from rq.exceptions import NoSuchJobError
from rq.job import Job

from config import settings
from maiascore.connections import get_redis
from maiascore.queue import QUEUES, queue

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
TRAINING_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)
NO_VERSION = "none"

HTTP_REQUESTS = Counter("maiascore_http_requests", "API requests answered, by route template, method and status",
                        ["route", "method", "status"])
HTTP_LATENCY = Histogram("maiascore_http_request_duration_seconds", "Time to answer an API request",
                         ["route", "method"], buckets=LATENCY_BUCKETS)
REPORTS_ACCEPTED = Counter("maiascore_reports_accepted", "Score reports stored by POST /reports (lane: single "
                                                         "or bulk)", ["lane"])
REPORTS_SCORED = Counter("maiascore_reports_scored", "Score reports scored, by model version", ["model_version"])
REPORTS_FAILED = Counter("maiascore_reports_failed", "Score reports that could not be scored", ["model_version"])
SCORING_LATENCY = Histogram("maiascore_scoring_latency_seconds", "From a report stored to its score stored",
                            buckets=LATENCY_BUCKETS)
TRAININGS = Counter("maiascore_trainings", "Training runs ended, by outcome (succeeded, failed, aborted)",
                    ["outcome"])
TRAINING_DURATION = Histogram("maiascore_training_duration_seconds", "Wall time of a training run, by outcome",
                              ["outcome"], buckets=TRAINING_BUCKETS)
WAITS_OPEN = Gauge("maiascore_waits_open", "Requests waiting for a score (?wait, Prefer: wait) right now",
                   multiprocess_mode="livesum")
RATE_LIMITED = Counter("maiascore_rate_limit_refusals", "Requests refused with 429, by route template", ["route"])


def request_answered(route, method, status, seconds):
    method = method if method in METHODS else "OTHER"
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_LATENCY.labels(route, method).observe(seconds)


def reports_accepted(lane, count=1):
    if count:
        REPORTS_ACCEPTED.labels(lane).inc(count)


def reports_scored(reports, fields, now):
    """``reports`` (with ``created_at`` where read) and the ``$set`` fields their results wrote."""
    for report, written in zip(reports, fields):
        REPORTS_SCORED.labels(str(written.get("scoreVersion") or NO_VERSION)).inc()
        created = report.get("created_at")
        if created is not None and created.tzinfo is not None:
            SCORING_LATENCY.observe(max(0.0, (now - created).total_seconds()))


def reports_failed(count, model_version=None):
    if count:
        REPORTS_FAILED.labels(str(model_version or NO_VERSION)).inc(count)


def training_ended(outcome, seconds):
    TRAININGS.labels(outcome).inc()
    TRAINING_DURATION.labels(outcome).observe(seconds)


def rate_limited(route):
    RATE_LIMITED.labels(route).inc()


class QueueCollector:
    """Queue depth and the age of the oldest waiting job of each RQ queue, read from Redis at scrape time."""

    def collect(self):
        depth = GaugeMetricFamily("maiascore_queue_depth", "Jobs waiting in the queue", labels=["queue"])
        oldest = GaugeMetricFamily("maiascore_queue_oldest_job_age_seconds",
                                   "Age of the oldest job waiting in the queue (0 when empty)", labels=["queue"])
        try:
            for name in QUEUES:
                q = queue(name)
                depth.add_metric([name], q.count)
                oldest.add_metric([name], _oldest_age(q))
        except redis.exceptions.RedisError:
            return
        yield depth
        yield oldest


def _oldest_age(q):
    ids = q.get_job_ids(0, 0)
    if not ids:
        return 0.0
    try:
        enqueued = Job.fetch(ids[0], connection=get_redis()).enqueued_at
    except NoSuchJobError:  # taken or expired between the two reads
        return 0.0
    return max(0.0, time.time() - enqueued.timestamp()) if enqueued else 0.0


_queues = CollectorRegistry(auto_describe=True)
_queues.register(QueueCollector())


def exposition():
    """Every process's metrics and the queues', in the Prometheus text format."""
    if settings().PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_queues)
