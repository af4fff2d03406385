"""Trainings and the per-account-group model registry.

``service`` launches, lists and cancels trainings; ``jobs`` runs them in a worker, enqueues
them and sweeps up lost ones; ``states`` lists their statuses; ``parameters`` checks a
training's ``meta`` (:mod:`maiascore.datasets.sources` resolves the data it names);
``registry`` stores model binaries in GridFS and decides which model scores an account
group's references.
"""
