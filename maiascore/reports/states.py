"""The states of a score report and of a scoring batch: the one list jobs, schemas and widgets read."""
QUEUED = "queued"
PROCESSED = "processed"
FAILED = "failed"
WAITING_FOR_MODEL = "waiting_for_model"
STATUSES = (QUEUED, PROCESSED, FAILED, WAITING_FOR_MODEL)
SETTLED = (PROCESSED, FAILED, WAITING_FOR_MODEL)  # what a ``?wait`` waits for

# A scoring batch (``score_batches``): queued -> processing (under a lease) -> done.
BATCH_QUEUED = "queued"
BATCH_PROCESSING = "processing"
BATCH_DONE = "done"
BATCH_STATUSES = (BATCH_QUEUED, BATCH_PROCESSING, BATCH_DONE)
