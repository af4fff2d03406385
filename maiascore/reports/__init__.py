"""Score reports: a reference's features in, a score from the group's active model out.

A report is accepted, stored ``queued`` and scored later by an RQ worker on one of two lanes;
nothing accepted is lost if Redis or a worker goes away in between.

* ``routes`` (HTTP) -> ``service`` (create, read, edit, rescore) -> ``documents`` (the stored shape).
* Single lane (``single_lane``): a report posted alone, edited or rescored is drained with the
  other queued reports of its group by ``drain_group``, one drain per group at a time under a
  Redis lease. A ``POST ?wait`` hands its report to the drain, which stores it with its result
  (``waiting``).
* Batch lane (``batch_lane``): a bulk POST, or the reports released when a model is activated,
  is scored by ``score_batch``, one job per batch document.
* Both lanes score with ``scoring`` (model, ``predict``, the scored writes), then tell waiters
  on Redis (``notification``). A result is written only to a report still queued under the
  ``batch`` token it was read with, so a report is scored once however many runs there are.
* ``recovery``: the sweeps that re-request what a crash or a Redis outage stranded.
"""
