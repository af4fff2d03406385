"""Model health: the monitoring read over many scored reports against few, and what monitoring and
a challenger add to scoring a report.

    python -m bench.monitoring_bench --large 100000 --medium 10000 --small 1000 --scored 2000

Three groups, each with a german-credit model version, get ``small``, ``medium`` and ``large``
reports scored over the last 7 days (features drawn from the sample, one in three labelled).
Their counters are the scoring pass's own deltas (``maiascore.monitoring.counters.scored``)
applied hour by hour as the scoring write applies them. The small and medium groups' reports are
stored too, and the per-report floor (read every report of the window, compute the same PSI and
AUC with numpy) is measured on them; storing the large group's reports would take the embedded
database most of the run and the counters' read does not look at them. Then ``--scored``
reports are scored by the scoring job itself (``score_batch``, in this process) without
monitoring, with it, and with a challenger. Prints one JSON line.
"""
import argparse
import json
import statistics
import time
from datetime import timedelta

import numpy as np
from bson import ObjectId

from bench.stack import Stack

TARGET = "creditability"


def _model(aid, rounds):
    from maiascore.modeling import load_sample, train
    from maiascore.monitoring import baselines
    from maiascore.trainings import registry

    dataset = load_sample("german-credit")
    trained = train(dataset, TARGET, params={"num_boost_round": rounds})
    training_id = str(ObjectId())
    doc = registry.store_model(aid, training_id, registry.new_version(aid), trained.booster_bytes,
                               trained.schema.to_dict(), trained.metrics)
    baselines.save(aid, doc["version"], baselines.from_training(trained, dataset, TARGET, {}))
    return doc, training_id


def _rows(n, seed):
    from maiascore.modeling import load_sample

    sample = load_sample("german-credit").rows
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(sample), n)
    return [{k: v for k, v in sample[i].items() if k != TARGET} for i in picks], \
        ["good" if sample[i][TARGET] == "good" else "bad" for i in picks]


def fill(db, aid, n, model_doc, store=True):
    """``n`` scored reports of ``aid`` spread over the last 7 days, and their hourly counters; ``store``:
    the report documents too (the per-report floor reads them)."""
    from maiascore.clock import utcnow
    from maiascore.modeling import build_matrix
    from maiascore.monitoring import counters, shadow
    from maiascore.monitoring.baselines import load
    from maiascore.monitoring.bins import feature_labels

    scorer = shadow._challenger_model(aid, model_doc["version"])  # scores without explanations
    baseline = load(aid, model_doc["version"])
    records, outcomes = _rows(n, seed=n)
    now = counters.hour_of(utcnow())
    per_hour, docs = {}, []
    for start in range(0, n, 10_000):
        part = records[start:start + 10_000]
        results = shadow.shadow_scores(scorer, part)
        matrix = build_matrix(scorer[0].schema, part)
        labels = feature_labels(baseline, matrix.values, matrix.unseen).tolist()
        for i, (record, (score, probability), bins) in enumerate(zip(part, results, labels)):
            k = start + i
            hour = now - timedelta(hours=k % 168)
            outcome = outcomes[k] if k % 3 == 0 else None
            mon = {"a": aid, "v": model_doc["version"], "h": hour, "s": score, "p": probability, "o": outcome}
            into = per_hour.setdefault(hour, {})
            for path, value in counters.scored(mon, bins).items():
                into[path] = into.get(path, 0) + value
            if store:
                docs.append({"aid": aid, "status": "processed", "features": record, "score": score,
                             "scoreProbability": probability, "scoreVersion": model_doc["version"],
                             "outcome": outcome, "processed_at": hour + timedelta(minutes=1), "mon": mon})
        if docs:
            db.score_reports.insert_many(docs)
        docs = []
    for hour, inc in per_hour.items():
        counters._apply(db, aid, model_doc["version"], hour, [str(ObjectId())], inc)


def timed(func, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def per_report_floor(db, aid, version, baseline):
    """What a read costs without counters: every report of the window, then numpy."""
    from maiascore.clock import utcnow
    from maiascore.modeling import FeatureSchema, auc, build_matrix
    from maiascore.monitoring.bins import all_labels, feature_labels

    schema = FeatureSchema.from_dict(db.models.find_one({"aid": aid, "version": version})["schema"])
    docs = list(db.score_reports.find({"aid": aid, "scoreVersion": version,
                                       "processed_at": {"$gte": utcnow() - timedelta(days=7)}},
                                      {"features": 1, "score": 1, "outcome": 1}))
    matrix = build_matrix(schema, [d["features"] for d in docs])
    labels = feature_labels(baseline, matrix.values, matrix.unseen)
    psi = []
    for j, spec in enumerate(baseline["features"]):
        names = all_labels(spec)
        e = np.maximum(np.array([spec["counts"][n] for n in names], float) / baseline["rows"]["train"], 1e-4)
        a = np.maximum(np.array([np.sum(labels[:, j] == n) for n in names], float) / len(docs), 1e-4)
        psi.append(float(np.sum((a - e) * np.log(a / e))))
    scores = np.array([d["score"] for d in docs if d.get("outcome")], float)
    good = np.array([d["outcome"] == "good" for d in docs if d.get("outcome")], dtype=int)
    return len(docs), max(psi), auc(good, scores)


def scoring_cost(db, aid, n, challenger):
    """Seconds per report of the scoring step (read, ``score``, ``write_scored``) on ``n`` queued reports,
    1,000 at a time."""
    from maiascore.clock import stored_now
    from maiascore.reports import scoring
    from maiascore.reports.documents import BATCH, new_token
    from maiascore.reports.states import QUEUED
    from maiascore.trainings.registry import active_model_for_scoring

    records, outcomes = _rows(n, seed=5)
    spent = 0.0
    for start in range(0, n, 1000):
        batch = new_token()
        now = stored_now()
        db.score_reports.insert_many([{"aid": aid, "status": QUEUED, "lane": BATCH, "batch": batch,
                                       "features": r, "outcome": o, "scoringRuns": 0, "created_at": now,
                                       "updated_at": now} for r, o in zip(records[start:start + 1000],
                                                                          outcomes[start:start + 1000])])
        begin = time.perf_counter()
        model = scoring.scoring_model(aid, active_model_for_scoring(aid))
        reports = list(db.score_reports.find({"batch": batch, "status": QUEUED}, scoring.SCORING_READ))
        done, results, failing, error = scoring.score(model, reports)
        if failing:
            raise error
        scoring.write_scored(db, done, results)
        spent += time.perf_counter() - begin
    return spent / n


class _Unmonitored:
    """A scoring pass that adds nothing: scoring as it was before model health."""

    def update(self, i):
        return {}

    def fields(self, i):
        return {}

    def settle(self, written_ids=None):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--medium", type=int, default=10_000)
    parser.add_argument("--scored", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    from maiascore.accounts.service import create_account_group
    from maiascore.indexes import ensure_indexes
    from maiascore.monitoring import challengers, service
    from maiascore.monitoring.baselines import load
    from maiascore.reports import scoring
    from maiascore.trainings import registry

    with Stack("monitoring") as stack:
        db = stack.db()
        ensure_indexes(db)
        out = {"large_reports": args.large, "medium_reports": args.medium, "small_reports": args.small}
        sizes = {}
        for name, n in (("small", args.small), ("medium", args.medium), ("large", args.large)):
            aid = create_account_group(f"Bench {name}")["_id"]
            doc, training = _model(aid, 200)
            registry.activate(aid, training)
            begin = time.perf_counter()
            fill(db, aid, n, doc, store=name != "large")
            out[f"{name}_fill_seconds"] = round(time.perf_counter() - begin, 1)
            sizes[name] = (aid, doc)
        for name, (aid, doc) in sizes.items():
            answer = service.monitoring(aid, "active")
            assert answer["count"] == out[f"{name}_reports"], answer["count"]
            out[f"{name}_read_ms"] = round(timed(lambda a=aid: service.monitoring(a, "active"), args.repeat) * 1000, 2)
            out[f"{name}_counter_docs"] = db.monitoring_counts.count_documents({"aid": aid})
        out["read_ratio_large_to_small"] = round(out["large_read_ms"] / out["small_read_ms"], 2)
        for name in ("small", "medium"):
            aid, doc = sizes[name]
            begin = time.perf_counter()
            count, worst_psi, auc = per_report_floor(db, aid, doc["version"], load(aid, doc["version"]))
            out[f"{name}_per_report_read_ms"] = round((time.perf_counter() - begin) * 1000, 1)
            answer = service.monitoring(aid, "active")
            out[f"{name}_per_report_read_agrees"] = (count == answer["count"]
                                                     and abs(worst_psi - answer["features"][0]["value"]) < 1e-6
                                                     and abs(auc - answer["performance"]["auc"]["value"]) < 1e-9)

        aid = create_account_group("Bench scoring")["_id"]
        doc, training = _model(aid, 200)
        registry.activate(aid, training)
        contender, _ = _model(aid, 50)
        out["scored_reports"] = args.scored
        monitored = scoring.shadow.scoring_pass
        scoring.shadow.scoring_pass = lambda reports, results: _Unmonitored()
        scoring_cost(db, aid, 1000, False)  # warm: the model loaded, the collections' first writes done
        out["score_unmonitored_ms_per_report"] = round(scoring_cost(db, aid, args.scored, False) * 1000, 3)
        scoring.shadow.scoring_pass = monitored
        out["score_ms_per_report"] = round(scoring_cost(db, aid, args.scored, False) * 1000, 3)
        challengers.set_challenger(aid, contender["version"], None)
        out["score_with_challenger_ms_per_report"] = round(scoring_cost(db, aid, args.scored, True) * 1000, 3)
        assert db.score_reports.count_documents({"aid": aid, "challenger.version": contender["version"]}) \
            == args.scored
        out["monitoring_ms_per_report"] = round(out["score_ms_per_report"] - out["score_unmonitored_ms_per_report"], 3)
        out["challenger_ms_per_report"] = round(out["score_with_challenger_ms_per_report"]
                                                - out["score_ms_per_report"], 3)
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
