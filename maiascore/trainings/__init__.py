"""Trainings, uploaded datasets and the per-account-group model registry.

``service`` launches, lists and cancels trainings; ``registry`` stores model binaries
in GridFS and decides which model scores an account group's references; ``datasets``
keeps uploaded CSVs. The training itself runs in ``maiascore.trainings.jobs``.
"""
