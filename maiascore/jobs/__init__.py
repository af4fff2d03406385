"""Background work. The web side reaches it only through ``enqueue``; jobs are functions of ids.

Queues: ``scores`` (score report batches), ``trainings`` (model training). Workers run
``rq worker -w maiascore.jobs.worker.Worker --with-scheduler scores trainings``.
"""
from rq import Queue, Retry

from maiascore.connections import get_redis

SCORES = "scores"
TRAININGS = "trainings"
QUEUES = (SCORES, TRAININGS)


def queue(name):
    return Queue(name, connection=get_redis())


def enqueue(queue_name, func, *args, job_id=None, at=None, timeout=None, retries=0, **kwargs):
    """Enqueue by dotted path so the web process never imports xgboost."""
    q = queue(queue_name)
    options = dict(job_id=job_id, job_timeout=timeout, result_ttl=3600, failure_ttl=7 * 86400)
    if retries:
        options["retry"] = Retry(max=retries, interval=[1, 5, 15][:retries])
    if at is not None:
        return q.enqueue_at(at, func, *args, **options, **kwargs)
    return q.enqueue(func, *args, **options, **kwargs)


def job_is_live(job_id):
    """True while a job is waiting, scheduled or running in a worker that still heartbeats."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(job_id, connection=get_redis())
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    return status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.STARTED)
