"""Where a training runs: in the RQ worker (``local``) or on a Dask cluster (``dask``).

``meta.engine`` chooses; ``auto`` (the default) means Dask when ``DASK_SCHEDULER_ADDRESS`` is
set and the data set is registered by URI, else local. On Dask the RQ job stays the
coordinator: the Dask workers read the file partition by partition, infer the schema with
the upload's rules (:mod:`maiascore.modeling.frames`), encode, and train with
``xgboost.dask``; the job trains ``DASK_ROUNDS_PER_CHUNK`` rounds at a time (continuing the
booster), so it reports progress, notices a cancel and a lost Dask worker between chunks.
The model, its schema and metrics are what a local training would give on the same data.
"""
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import dask.dataframe as dd
import numpy as np
from distributed import Client
from xgboost import dask as dxgb

from config import settings
from maiascore.connections import get_db
from maiascore.events import MODEL_TRAINED
from maiascore.leases import RunAborted
from maiascore.modeling import DEFAULT_PARAMS, DatasetError, TrainedModel, evaluate, train, validate_params
from maiascore.modeling.datasets import MIN_ROWS
from maiascore.modeling.features import internal_names
from maiascore.modeling.frames import (LABEL, PART, TEST, TRAIN, VALIDATION, empty_encoded, encode_partition,
                                       frame_dataset, hashed_parts, merge_summaries, partition_labels, summarize)
from maiascore.modeling.training import (MIN_ROWS_PER_CLASS, VALIDATION_SHARE, confusion_matrix,
                                         feature_importance, gain_shares, stratified_split)
from maiascore.trainings import bounds

log = logging.getLogger("maiascore.trainings.engines")
AUTO, LOCAL, DASK = "auto", "local", "dask"
ENGINES = (AUTO, LOCAL, DASK)
POLL_SECONDS = 0.25


class EngineFailed(ValueError):
    """The cluster failed the training or scoring run (unreachable, a worker lost); the message is the
    reason. A ValueError, so the job records it as the error as it does a bad parameter."""


@contextmanager
def dask_client(unreachable=""):
    """A client of ``DASK_SCHEDULER_ADDRESS``, current inside the block and closed after it: closing
    releases every future the block made, so a cancel drops its partitions at once. ``unreachable``
    ends the error when the cluster cannot be reached."""
    cfg = settings()
    try:
        client = Client(cfg.DASK_SCHEDULER_ADDRESS, timeout=cfg.DASK_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise EngineFailed(f"The Dask cluster at {cfg.DASK_SCHEDULER_ADDRESS} cannot be reached "
                           f"({type(exc).__name__}){unreachable}") from None
    try:
        with client.as_current():
            yield client
    finally:
        client.close()


def check(meta, source):
    """``meta`` errors the POST reports: an engine that cannot run this training here."""
    engine = meta.get("engine", AUTO)
    if engine not in ENGINES:
        return {"engine": [f"Must be one of {', '.join(ENGINES)}."]}
    if engine == DASK and not settings().DASK_SCHEDULER_ADDRESS:
        return {"engine": ["No Dask cluster is configured on this server (DASK_SCHEDULER_ADDRESS)."]}
    if engine == DASK and not getattr(source, "by_reference", False):
        return {"engine": ["The dask engine reads a data set registered by URI (POST /datasets with a uri)."]}
    return {}


def chosen(meta, source):
    engine = meta.get("engine", AUTO)
    if engine == AUTO:
        return DASK if settings().DASK_SCHEDULER_ADDRESS and getattr(source, "by_reference", False) else LOCAL
    return engine


def run(training_run, source, meta):
    """Trains ``meta``'s model on ``source`` with the engine chosen; records the engine on the training."""
    if chosen(meta, source) == LOCAL:
        _record(training_run, {"engine": LOCAL, "dask": None})
        dataset, target = source.load(bounds.row_limit(meta))
        bounds.check_read(meta, dataset.row_count, len(dataset.columns))
        trained = train(dataset, target, params=meta.get("params") or {}, test_size=meta.get("testSize", 0.2),
                        seed=meta.get("seed", 42), progress=training_run.progress,
                        positive_label=meta.get("positiveLabel"))
        MODEL_TRAINED.send(trained=trained, dataset=dataset, target=target, meta=meta)
        return trained
    with dask_client("; the training did not start") as client:
        return DaskTraining(training_run, client, source, meta).run()


def _record(training_run, fields):
    get_db().trainings.update_one(training_run.owned, {"$set": fields})


class DaskTraining:
    def __init__(self, training_run, client, source, meta):
        self.run_, self.client, self.source, self.meta = training_run, client, source, meta
        self.target = source.target
        self.seed = meta.get("seed", 42)
        self.test_size = meta.get("testSize", 0.2)
        self.workers = set(client.nthreads())
        if not self.workers:
            raise EngineFailed("The Dask cluster has no worker")

    def run(self):
        client, target = self.client, self.target
        frame = self.source.frame()
        _record(self.run_, {"engine": DASK, "dask": {"workers": len(self.workers), "partitions": frame.npartitions}})
        pieces = client.compute(frame.to_delayed())
        parsed = client.map(frame_dataset, pieces, target=target)
        del pieces
        summaries = self._gather(client.map(summarize, parsed, target=target))
        schema, rows, classes, counts = merge_summaries(summaries, target, self.meta.get("positiveLabel"))
        bounds.check_read(self.meta, rows, len(summaries[0].columns))
        if rows < MIN_ROWS:
            raise DatasetError(f"file has {rows} data rows; at least {MIN_ROWS} are required")
        for name in (classes.negative, classes.positive):
            if counts[name] < MIN_ROWS_PER_CLASS:
                raise DatasetError(f"class '{name}' has only {counts[name]} rows; at least {MIN_ROWS_PER_CLASS} "
                                   "are needed to train, validate and test")
        parts = self._parts(parsed, summaries, rows, classes)
        count = len(parsed)
        encoded = client.map(encode_partition, parsed, [schema.to_dict()] * count, [target] * count,
                             [classes.positive] * count, parts)
        del parsed
        table = dd.from_delayed(encoded, meta=empty_encoded(schema), verify_meta=False)
        names = internal_names(schema)
        split = {k: table[table[PART] == k] for k in (TRAIN, VALIDATION, TEST)}
        matrix = {k: dxgb.DaskDMatrix(client, split[k][names], split[k][LABEL], feature_names=names,
                                      feature_types=schema.feature_types, enable_categorical=True)
                  for k in (TRAIN, VALIDATION)}
        booster, params = self._boost(matrix[TRAIN], matrix[VALIDATION])
        schema.gain_share = gain_shares(booster, schema)
        test = split[TEST]
        proba, labels, sizes = client.compute([dxgb.inplace_predict(client, booster, test[names]), test[LABEL],
                                               table[PART].value_counts()], sync=True)
        metrics = evaluate(np.asarray(labels), np.asarray(proba))
        metrics["featureImportance"] = feature_importance(booster, schema)
        metrics["positiveLabel"], metrics["negativeLabel"] = classes.positive, classes.negative
        metrics["confusionMatrix"] = confusion_matrix(metrics["confusion"], classes)
        best_iteration = booster.num_boosted_rounds() - 1
        model = TrainedModel(
            booster_bytes=bytes(booster.save_raw("ubj")), schema=schema, metrics=metrics,
            best_iteration=best_iteration,
            rows={"train": int(sizes.get(TRAIN, 0)), "validation": int(sizes.get(VALIDATION, 0)),
                  "test": int(sizes.get(TEST, 0))},
            params=params)
        self.run_.progress(100)
        return model

    def _parts(self, parsed, summaries, rows, classes):
        """Up to DASK_EXACT_SPLIT_ROWS the local training's stratified split, row for row; above, a
        per-row draw from the seed (no label leaves the cluster)."""
        if rows > settings().DASK_EXACT_SPLIT_ROWS:
            return [hashed_parts(s.rows, self.seed, i, self.test_size, VALIDATION_SHARE)
                    for i, s in enumerate(summaries)]
        labels = np.concatenate(self._gather(self.client.map(partition_labels, parsed, target=self.target,
                                                             positive=classes.positive)))
        train_idx, val_idx, test_idx = stratified_split(labels, self.test_size, self.seed,
                                                        (classes.negative, classes.positive))
        parts = np.full(rows, TRAIN, dtype=np.int8)
        parts[val_idx], parts[test_idx] = VALIDATION, TEST
        bounds = np.cumsum([0] + [s.rows for s in summaries])
        return [parts[bounds[i]:bounds[i + 1]] for i in range(len(summaries))]

    def _boost(self, dtrain, dval):
        """Boosts in chunks, continuing the booster; early stopping as local training does it."""
        settings_ = {**DEFAULT_PARAMS, **validate_params(self.meta.get("params") or {})}
        rounds = settings_.pop("num_boost_round")
        patience = settings_.pop("early_stopping_rounds")
        params = {**settings_, "objective": "binary:logistic", "eval_metric": "logloss", "tree_method": "hist",
                  "seed": self.seed, "nthread": 1}
        chunk = max(1, settings().DASK_ROUNDS_PER_CHUNK)
        booster, losses, best = None, [], (math.inf, -1)
        while len(losses) < rounds and len(losses) - 1 - best[1] < patience:
            count = min(chunk, rounds - len(losses))
            out = self._watched(lambda: dxgb.train(self.client, params, dtrain, num_boost_round=count,
                                                   evals=[(dval, "validation")], xgb_model=booster,
                                                   verbose_eval=False))
            booster = out["booster"]
            for loss in out["history"]["validation"]["logloss"]:
                if loss < best[0]:
                    best = (loss, len(losses))
                losses.append(loss)
            self.run_.progress(min(99, len(losses) * 100 // rounds))
        return booster[: best[1] + 1], {**settings_, "num_boost_round": rounds, "early_stopping_rounds": patience}

    def _gather(self, futures):
        return self._watched(lambda: self.client.gather(futures))

    def _as_current(self, work):
        """Dask collections built here compute on this training's client, never a process-wide default."""
        with self.client.as_current():
            return work()

    def _watched(self, work):
        """Runs ``work`` while watching the training (canceled?) and the cluster (a worker gone?)."""
        pool = ThreadPoolExecutor(1, thread_name_prefix=f"dask-{self.run_.id}")
        pending = pool.submit(self._as_current, work)
        try:
            while True:
                try:
                    return pending.result(timeout=POLL_SECONDS)
                except TimeoutError:
                    pass
                if self.run_.lost.is_set():
                    raise RunAborted()
                gone = self.workers - set(self.client.nthreads())
                if gone:
                    raise EngineFailed(f"Dask worker {', '.join(sorted(gone))} left the cluster during the "
                                       "training (killed or lost); launch the training again")
        finally:
            pool.shutdown(wait=False)  # a stuck call ends when the client closes; it must not hold the job
