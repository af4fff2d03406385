"""Data sets: what a training trains on and a scoring run scores.

``routes`` and ``schemas`` are ``/datasets``; ``service`` stores, lists and deletes them
(``checks`` holds what an upload must be); ``storage`` keeps uploaded CSVs in GridFS;
``uris`` registers and reads files by ``file://`` or ``s3://`` reference, every local file
opened through ``files``; ``sources`` resolves a training's ``meta.dataset`` (a stored data
set, the group's labelled reports through ``labelled``, or a bundled sample); ``reading``
reads a data set a chunk of rows at a time for scoring runs.
"""
