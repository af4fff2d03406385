"""Queue plumbing, at the bottom: queue names, ``enqueue``, job liveness and how workers start.

Whoever has work for a worker imports this module; it imports neither the web layer nor
any domain. Jobs are passed as function objects, so a renamed job fails at import time,
not in a worker hours later.

Two worker roles, each an ``rq worker`` started with an RQ settings module
(``maiascore.workers.scoring`` or ``maiascore.workers.training``): scoring workers never
take a training, so one group's training cannot hold another group's reports.
"""
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from maiascore.connections import get_redis, redis_key

SINGLES = "singles"  # the single lane's drains, one per account group at a time
SCORES = "scores"  # the batch lane's jobs: a bulk's batches, the reports released on a model's activation
TRAININGS = "trainings"
MAIL = "mail"                    # password reset mails
ALERTS = "alerts"                # alert-rule evaluations: short, bounded by the rules per group
NOTIFICATIONS = "notifications"  # webhook and email deliveries: short timeouts, one endpoint per job
QUEUES = (SINGLES, SCORES, TRAININGS, MAIL, ALERTS, NOTIFICATIONS)
# RQ takes queues in the order given: a worker of the scores takes every pending drain before the next batch
# (and a running batch gives way between reads), so a single report never waits for another group's backlog.
SERVED_FIRST = {SCORES: (SINGLES,)}
# Evaluations, deliveries and mails are short and come first, so a scoring backlog never delays an
# alert or a reset code.
ROLES = {"scoring": (ALERTS, NOTIFICATIONS, MAIL, SCORES), "training": (TRAININGS,)}
WORKER_CLASS = "maiascore.workers.Worker"
LIVE = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.STARTED)


def queue_name(name):
    """The RQ queue of this deployment (``REDIS_PREFIX:name``): two deployments on one Redis never
    take each other's jobs."""
    return redis_key(name)


def served(names):
    """The queues a worker serving ``names`` takes, in the order it takes them (``SERVED_FIRST``)."""
    order = []
    for name in names:
        for each in (*SERVED_FIRST.get(name, ()), name):
            if each not in order:
                order.append(each)
    return order


def queue(name):
    return Queue(queue_name(name), connection=get_redis())


def enqueue(queue_name, func, *args, job_id=None, at=None, timeout=None, retries=0, **kwargs):
    """Queues ``func(*args)``; ``at`` schedules it (the scoring worker runs the scheduler)."""
    if not callable(func):
        raise TypeError(f"enqueue takes the job function itself, not {func!r}")
    q = queue(queue_name)
    options = dict(job_id=job_id, job_timeout=timeout, result_ttl=3600, failure_ttl=7 * 86400)
    if retries:
        options["retry"] = Retry(max=retries, interval=[1, 5, 15][:retries])
    if at is not None:
        return q.enqueue_at(at, func, *args, **options, **kwargs)
    return q.enqueue(func, *args, **options, **kwargs)


def job_is_live(job_id, on=None):
    """True while a job is waiting, scheduled or running in a worker that still heartbeats; with ``on``
    (a name as in ``QUEUES``), only on this deployment's queue of that name: a job another deployment's
    queue holds (a command run with another ``REDIS_PREFIX``) waits for workers that are not ours."""
    try:
        job = Job.fetch(job_id, connection=get_redis())
    except NoSuchJobError:
        return False
    if on is not None and job.origin != queue_name(on):
        return False
    return job.get_status(refresh=False) in LIVE


def worker_command(role, *, rq="rq", burst=False, scheduler=None, queues=None, count=None):
    """The ``rq worker`` command line of a worker of ``role`` ("scoring" or "training"): the one
    definition the Procfile, ``maiascore worker``, ``make run``, the tests and the benchmark use.

    ``scheduler`` defaults to on for scoring workers (scheduled trainings are enqueued by it);
    ``queues`` overrides the role's queues (a test worker that serves both); names as in ``ROLES``, each
    served with the queues it puts first (``served``). ``count``: that many workers, as one
    ``rq worker-pool`` process (its workers always run RQ's scheduler too).
    """
    if role not in ROLES:
        raise ValueError(f"unknown worker role {role!r}; one of {', '.join(ROLES)}")
    if count is not None:
        args = [rq, "worker-pool", "-n", str(count), "-c", f"maiascore.workers.{role}", "-w", WORKER_CLASS]
    else:
        args = [rq, "worker", "-c", f"maiascore.workers.{role}", "-w", WORKER_CLASS]
    if count is None and (scheduler if scheduler is not None else (role == "scoring" and not burst)):
        args.append("--with-scheduler")
    if burst:
        args.append("--burst")
    return args + [queue_name(name) for name in served(queues or ())]
