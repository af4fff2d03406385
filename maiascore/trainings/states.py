"""The states of a training: the one list jobs, schemas, datasets and widgets read.

``scheduled`` (waits for ``scheduledAt``) or ``queued``, then ``running``, then one of
the final states.
"""
SCHEDULED = "scheduled"
QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELED = "canceled"
STATUSES = (SCHEDULED, QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED)
ACTIVE = (SCHEDULED, QUEUED, RUNNING)
FINAL = (SUCCEEDED, FAILED, CANCELED)
PENDING = (SCHEDULED, QUEUED)  # waiting for a worker: a job in Redis should exist for them
