"""Batch scoring of a whole data set: ``POST /scoring-runs`` and the jobs that score it chunk by chunk."""
