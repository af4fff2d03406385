"""The states of a scoring run: the one list jobs, schemas and the service read.

``queued`` (waiting for a worker, or re-queued after its worker was lost: it resumes from
its last finished chunk), then ``running``, then one of the final states.
"""
QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELED = "canceled"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED)
ACTIVE = (QUEUED, RUNNING)
FINAL = (SUCCEEDED, FAILED, CANCELED)

# Where the scores go (``output.kind``) and the result file's formats.
REPORTS = "reports"
FILE = "file"
KINDS = (REPORTS, FILE)
CSV = "csv"
PARQUET = "parquet"
FORMATS = (CSV, PARQUET)
