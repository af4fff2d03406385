"""Score reports: a reference's features in, a score from the group's active model out.

A report is stored first (``status: "queued"``) and scored later, in batches, by the
``score_batch`` job (``maiascore.reports.jobs``); nothing accepted is lost if Redis or a
worker goes away in between.
"""
