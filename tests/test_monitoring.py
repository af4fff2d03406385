"""Model health: baselines, drift and realized performance from per-version counters, checked against
figures computed independently with numpy on the same reports; the challenger in shadow."""
import os
import signal

import numpy as np
import pytest
import redis

from conftest import wait_until
from model_fixtures import TARGET, german_rows, install_model, trained_model


@pytest.fixture
def monitored(admin, db):
    """The german-credit model, active, with its baseline (as a training job stores it)."""
    from maiascore.modeling import load_sample
    from maiascore.monitoring import baselines

    doc = install_model(admin.aid)
    baselines.save(admin.aid, doc["version"], baselines.from_training(trained_model(), load_sample("german-credit"),
                                                                      TARGET, {}))
    return doc


def held_out():
    """The rows the training measured its AUC on, with their outcome."""
    from maiascore.modeling import binary_target, load_sample
    from maiascore.modeling.training import stratified_split

    dataset = load_sample("german-credit")
    labels = binary_target(dataset, TARGET).labels
    _, _, test_idx = stratified_split(labels, 0.2, 42)
    rows = dataset.rows
    return [({k: v for k, v in rows[i].items() if k != TARGET}, "good" if labels[i] == 1 else "bad") for i in test_idx]


def numpy_psi(expected, actual):
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    e = np.maximum(e / e.sum(), 1e-4)
    a = np.maximum(a / a.sum(), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def numpy_labels(spec, values, schema_feature):
    """A feature's bins computed here, from the baseline's edges or kept categories."""
    if spec["type"] == "numeric":
        x = np.array([np.nan if v in (None, "") else float(v) for v in values])
        idx = np.searchsorted(np.array(spec["edges"]), x, side="right")
        names = [str(i) for i in range(len(spec["edges"]) + 1)] + ["m"]
        return [("m" if np.isnan(v) else str(i)) for v, i in zip(x, idx)], names
    kept = {schema_feature["categories"][c]: str(c) for c in spec["kept"]}
    names = [str(c) for c in spec["kept"]] + ["o", "m"]
    return [("m" if v in (None, "") else kept.get(str(v), "o")) for v in values], names


def expected_feature_psi(baseline, schema, rows):
    out = {}
    for spec, feature in zip(baseline["features"], schema["features"]):
        labels, names = numpy_labels(spec, [r.get(spec["name"]) for r in rows], feature)
        actual = [labels.count(n) for n in names]
        out[spec["name"]] = numpy_psi([spec["counts"][n] for n in names], actual)
    return out


def numpy_auc_ks(scores, good):
    scores, good = np.asarray(scores, dtype=np.float64), np.asarray(good, dtype=bool)
    g, b = scores[good], scores[~good]
    auc = (np.sum(g[:, None] > b[None, :]) + 0.5 * np.sum(g[:, None] == b[None, :])) / (len(g) * len(b))
    grid = np.unique(scores)
    ks = np.max(np.abs((g[:, None] <= grid).mean(axis=0) - (b[:, None] <= grid).mean(axis=0)))
    return float(auc), float(ks)


def score_all(admin, db, run_worker, rows, outcomes=None):
    body = [{"features": row, **({"outcome": outcomes[i]} if outcomes else {})} for i, row in enumerate(rows)]
    assert admin.post("/reports", json=body).get_json()["accepted"] == len(rows)
    run_worker(queues=("scores",))
    assert db.score_reports.count_documents({"status": "processed"}) == len(rows)


def test_a_shifted_feature_and_a_shifted_score_show_with_the_psi_numpy_computes(admin, db, run_worker, monitored):
    rows = german_rows(1000)
    for row in rows:
        row["age_in_years"] = str(float(row["age_in_years"]) + 40)
    score_all(admin, db, run_worker, rows)
    health = admin.get("/models/active/monitoring").get_json()
    baseline = admin.get(f"/models/{monitored['version']}/baseline").get_json()
    schema = admin.get("/models/active").get_json()["schema"]
    assert health["count"] == 1000 and health["version"] == monitored["version"]

    expected = expected_feature_psi(baseline, schema, rows)
    got = {f["feature"]: f for f in health["features"]}
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name]["value"] == pytest.approx(value, abs=1e-6), name
        assert got[name]["count"] == 1000
    assert got["age_in_years"]["value"] > 0.25 and got["age_in_years"]["status"] == "shifted"
    assert health["features"][0]["feature"] == "age_in_years"  # worst first
    assert all(f["value"] < 0.1 and f["status"] == "stable" for n, f in got.items() if n != "age_in_years")
    assert got["age_in_years"]["missingRate"] == {"now": 0.0, "baseline": 0.0}

    scores = [r["score"] for r in db.score_reports.find({}, {"score": 1})]
    edges = baseline["score"]["edges"]
    actual = np.bincount(np.searchsorted(edges, scores, side="right"), minlength=len(edges) + 1)
    expected_score = numpy_psi([baseline["score"]["counts"][str(i)] for i in range(len(edges) + 1)], actual)
    assert health["scorePsi"]["value"] == pytest.approx(expected_score, abs=1e-6)

    # the same population, every applicant now with the riskiest checking account and a long loan
    db.score_reports.delete_many({})
    db.monitoring_counts.delete_many({})
    risky = german_rows(300)
    for row in risky:
        row["status_of_existing_checking_account"] = "... < 0 DM"
        row["duration_in_month"] = "60"
    score_all(admin, db, run_worker, risky)
    health = admin.get("/models/active/monitoring").get_json()
    assert health["count"] == 300
    assert health["scorePsi"]["status"] == "shifted" and health["scorePsi"]["value"] > 0.25


def test_realized_auc_and_ks_match_numpy_and_the_trainings_held_out_auc(admin, db, run_worker, monitored):
    rows, outcomes = zip(*held_out())
    score_all(admin, db, run_worker, list(rows), list(outcomes))
    perf = admin.get("/models/active/monitoring").get_json()["performance"]
    docs = list(db.score_reports.find({}, {"score": 1, "outcome": 1, "scoreProbability": 1}))
    scores = [d["score"] for d in docs]
    good = [d["outcome"] == "good" for d in docs]
    auc, ks = numpy_auc_ks(scores, good)
    assert perf["labelled"] == len(docs) == 200
    assert perf["auc"]["value"] == pytest.approx(auc, abs=1e-9)
    assert perf["ks"]["value"] == pytest.approx(ks, abs=1e-9)
    assert perf["gini"]["value"] == pytest.approx(2 * auc - 1, abs=1e-9)
    assert perf["badRate"]["value"] == pytest.approx(1 - np.mean(good), abs=1e-9)
    assert abs(perf["auc"]["value"] - monitored["metrics"]["auc"]) < 0.05
    p = np.array([d["scoreProbability"] for d in docs])
    brier = float(np.mean((p - np.array(good, dtype=float)) ** 2))
    assert perf["calibration"]["brier"]["value"] == pytest.approx(brier, abs=1e-9)
    assert sum(b["count"] for b in perf["bands"]) == 200

    # an outcome changed afterwards moves the counts, once however it is sent
    report = db.score_reports.find_one({"outcome": "good"})
    for _ in range(2):
        assert admin.put(f"/reports/{report['_id']}", json={"outcome": "bad"}).status_code == 200
    perf = admin.get("/models/active/monitoring").get_json()["performance"]
    good[[d["_id"] for d in docs].index(report["_id"])] = False
    assert perf["auc"]["value"] == pytest.approx(numpy_auc_ks(scores, good)[0], abs=1e-9)
    assert perf["badRate"]["count"] == 200


def test_a_figure_on_too_few_reports_says_so(admin, db, run_worker, monitored):
    score_all(admin, db, run_worker, german_rows(10), ["good"] * 5 + ["bad"] * 5)
    health = admin.get("/models/active/monitoring").get_json()
    assert health["count"] == 10
    assert health["scorePsi"]["value"] is None and health["scorePsi"]["count"] == 10
    assert "fewer than the 50" in health["scorePsi"]["note"]
    assert health["performance"]["auc"] == {"value": None, "count": 10,
                                            "note": "rests on 10 reports, fewer than the 50 needed"}


def test_bounds_and_permissions(admin, make_actor, db, monitored):
    reader = make_actor("Read Only", aid=admin.aid)
    regular = make_actor("Regular User", aid=admin.aid)
    other = make_actor("Account Admin")
    other_model = install_model(other.aid)
    assert reader.get("/models/active/monitoring").status_code == 200
    assert reader.get(f"/models/{monitored['version']}/baseline").status_code == 200

    missing = admin.get("/models/999/monitoring")
    assert missing.status_code == 404 and "999" in missing.get_json()["message"]
    too_long = admin.get("/models/active/monitoring?from=2020-01-01T00:00:00Z&to=2021-01-01T00:00:00Z")
    assert too_long.status_code == 400 and "93 days" in too_long.get_json()["message"]
    backwards = admin.get("/models/active/monitoring?from=2021-01-02T00:00:00Z&to=2021-01-01T00:00:00Z")
    assert backwards.status_code == 400 and "before" in backwards.get_json()["message"]
    assert admin.get("/models/active/monitoring?from=yesterday").status_code in (400, 422)
    ancient = admin.get("/models/active/monitoring?to=0001-01-01T00:00:00Z")
    assert ancient.status_code == 400 and "'to'" in ancient.get_json()["message"]
    assert admin.get("/models/health-series?metric=auc&to=0001-01-01T00:00:00Z").status_code == 400
    # a version whose training is gone and that has no baseline
    bare = install_model(admin.aid, activate=False)
    no_baseline = admin.get(f"/models/{bare['version']}/monitoring")
    assert no_baseline.status_code == 409 and "no baseline" in no_baseline.get_json()["message"]

    # challengers: admins only, of this group, not the active one
    assert reader.put("/models/challenger", json={"version": bare["version"]}).status_code == 403
    assert regular.put("/models/challenger", json={"version": bare["version"]}).status_code == 403
    same = admin.put("/models/challenger", json={"version": monitored["version"]})
    assert same.status_code == 400 and "active" in same.get_json()["message"]
    assert other.put("/models/challenger", json={"version": "999"}).status_code == 404
    foreign = admin.put("/models/challenger", json={"version": str(int(other_model["version"]) + 50)})
    assert foreign.status_code == 404
    assert other.get(f"/models/{bare['version']}/monitoring").status_code in (404, 409)
    assert admin.get("/models/challenger").status_code == 404
    ok = admin.put("/models/challenger", json={"version": bare["version"]})
    assert ok.status_code == 200 and ok.get_json()["champion"] == monitored["version"]
    assert other.get("/models/challenger").status_code == 404  # another group sees none
    assert reader.delete("/models/challenger").status_code == 403
    assert admin.delete("/models/challenger").status_code == 200
    assert admin.delete("/models/challenger").status_code == 404


def test_a_training_stores_its_baseline_and_a_version_without_one_gets_it_from_its_data_set(admin, db, run_worker):
    from maiascore.monitoring import baselines
    from maiascore.trainings.registry import active_model

    r = admin.post("/trainings", json={"meta": {"params": {"num_boost_round": 20}, "seed": 7, "testSize": 0.25}})
    assert r.status_code == 200, r.get_json()
    run_worker(queues=("trainings",))
    model = active_model(admin.aid)
    stored = admin.get("/models/active/baseline").get_json()
    assert stored["rows"] == {"train": model["metrics"]["rows"]["train"], "test": model["metrics"]["rows"]["test"]}
    assert len(stored["features"]) == len(model["schema"]["features"])
    assert all(sum(f["counts"].values()) == stored["rows"]["train"] for f in stored["features"])
    assert sum(stored["score"]["counts"].values()) == stored["rows"]["test"]
    age = next(f for f in stored["features"] if f["name"] == "age_in_years")
    assert age["type"] == "numeric" and len(age["edges"]) >= 5 and age["missingRate"] == 0.0

    db.model_baselines.delete_many({})  # as if trained before baselines existed: built from the data set
    assert admin.get("/models/active/baseline").get_json() == stored
    assert baselines.load(admin.aid, model["version"])["features"] == stored["features"]


def test_the_challenger_scores_in_shadow_is_compared_then_promoted(admin, db, run_worker, monitored):
    from maiascore.modeling import load_sample
    from maiascore.monitoring import baselines
    from maiascore.trainings.registry import activate

    contender = install_model(admin.aid, activate=False, rounds=5)
    baselines.save(admin.aid, contender["version"],
                   baselines.from_training(trained_model(5), load_sample("german-credit"), TARGET, {}))
    assert admin.put("/models/challenger", json={"version": contender["version"]}).status_code == 200

    rows, outcomes = zip(*held_out())
    score_all(admin, db, run_worker, list(rows), list(outcomes))
    docs = list(db.score_reports.find())
    assert all(d["scoreVersion"] == monitored["version"] and d["challenger"]["version"] == contender["version"]
               for d in docs)
    shown = admin.get(f"/reports/{docs[0]['_id']}").get_json()
    assert shown["score"] == docs[0]["score"] and "challenger" not in shown  # never the report's score
    assert any(d["challenger"]["score"] != d["score"] for d in docs)  # another model: other scores

    comparison = admin.get("/models/active/monitoring").get_json()["comparisons"][0]
    champion = np.array([d["score"] for d in docs], dtype=float)
    shadowed = np.array([d["challenger"]["score"] for d in docs], dtype=float)
    good = [d["outcome"] == "good" for d in docs]
    agree = np.mean((np.array([d["scoreProbability"] for d in docs]) >= 0.5)
                    == (np.array([d["challenger"]["scoreProbability"] for d in docs]) >= 0.5))
    assert comparison["version"] == contender["version"] and comparison["count"] == comparison["labelled"] == 200
    assert comparison["agreement"]["value"] == pytest.approx(agree, abs=1e-9)
    assert comparison["scoreCorrelation"]["value"] == pytest.approx(np.corrcoef(champion, shadowed)[0, 1], abs=1e-9)
    auc_a, ks_a = numpy_auc_ks(champion, good)
    auc_c, ks_c = numpy_auc_ks(shadowed, good)
    assert comparison["champion"]["auc"]["value"] == pytest.approx(auc_a, abs=1e-9)
    assert comparison["champion"]["ks"]["value"] == pytest.approx(ks_a, abs=1e-9)
    assert comparison["challenger"]["auc"]["value"] == pytest.approx(auc_c, abs=1e-9)
    assert comparison["challenger"]["ks"]["value"] == pytest.approx(ks_c, abs=1e-9)

    activate(admin.aid, contender["training"])  # promoted: the challenge ends, it scores from now on
    assert admin.get("/models/challenger").status_code == 404
    db.score_reports.delete_many({})
    score_all(admin, db, run_worker, german_rows(60))
    assert all(d["scoreVersion"] == contender["version"] and "challenger" not in d for d in db.score_reports.find())
    health = admin.get("/models/active/monitoring").get_json()
    assert health["version"] == contender["version"] and health["count"] == 60 and health["comparisons"] == []


@pytest.fixture
def fast_recovery(monkeypatch):
    monkeypatch.setenv("SWEEP_INTERVAL_SECONDS", "1")


def test_a_worker_killed_mid_batch_leaves_every_report_counted_once_by_champion_and_challenger(
        admin, db, cfg, live_worker, fast_recovery, monitored):
    contender = install_model(admin.aid, activate=False, rounds=5)
    assert admin.put("/models/challenger", json={"version": contender["version"]}).status_code == 200
    cfg.SCORING_BATCH_SIZE = 300
    total = 1200
    for attempt in range(3):  # the kill must land while a batch is claimed
        db.score_reports.delete_many({})
        db.score_batches.delete_many({})
        db.monitoring_counts.delete_many({})
        db.monitoring_pending.delete_many({})
        redis.Redis.from_url(cfg.REDIS_URL).flushdb()
        body = [{"referenceId": f"k{i}", "features": row} for i, row in enumerate(german_rows(total))]
        assert admin.post("/reports", json=body).get_json()["accepted"] == total
        doomed = live_worker(queues=("scores",), scheduler=False)
        claimed = wait_until(lambda: db.score_batches.find_one({"status": "processing"}), 60, interval=0.005)
        assert claimed, "the worker never claimed a batch"
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()
        if db.score_batches.find_one({"_id": claimed["_id"]})["status"] == "processing":
            break
    assert db.score_reports.count_documents({"status": "processed"}) < total

    live_worker(queues=("scores",))
    assert wait_until(lambda: db.score_reports.count_documents({"status": "processed"}) == total, 300)
    assert wait_until(lambda: db.monitoring_pending.count_documents({}) == 0, 120)
    assert db.score_reports.count_documents({"scoringRuns": 1, "challenger.version": contender["version"]}) == total
    counts = list(db.monitoring_counts.find({"version": monitored["version"]}))
    assert sum(c["n"] for c in counts) == total
    assert sum(c["ch"][contender["version"]]["n"] for c in counts) == total
    assert sum(sum(c["s"].values()) for c in counts) == total
    assert admin.get("/models/active/monitoring").get_json()["comparisons"][0]["count"] == total


def test_a_pass_killed_after_part_of_its_write_is_counted_once_for_what_it_wrote(admin, db, monitored):
    from pymongo import UpdateOne

    from maiascore.monitoring import counters, shadow
    from maiascore.reports import scoring
    from maiascore.trainings.registry import active_model

    body = [{"features": row, "outcome": "good" if i % 3 else "bad"} for i, row in enumerate(german_rows(100))]
    assert admin.post("/reports", json=body).get_json()["accepted"] == 100
    reports = list(db.score_reports.find({}, {"features": 1, "batch": 1, **counters.REPORT_FIELDS}))
    results = scoring.scoring_model(admin.aid, active_model(admin.aid)).score([r["features"] for r in reports])
    doomed = shadow.scoring_pass(reports, results)
    fields = scoring._fields(results)
    # the write lands for 40 reports, then the worker dies before the counters
    db.score_reports.bulk_write([UpdateOne({"_id": r["_id"], "batch": r["batch"], "status": "queued"},
                                           shadow.merge({"$set": f}, doomed.update(i)))
                                 for i, (r, f) in enumerate(zip(reports[:40], fields[:40]))])
    assert db.monitoring_pending.count_documents({}) == 1
    counters.apply_pending(doomed.token)  # the sweep, and a second sweep or the pass itself, late
    counters.apply_pending(doomed.token)
    assert db.monitoring_pending.count_documents({}) == 0
    assert sum(c["n"] for c in db.monitoring_counts.find()) == 40

    rest = list(db.score_reports.find({"status": "queued"}, {"features": 1, "batch": 1, **counters.REPORT_FIELDS}))
    retry = shadow.scoring_pass(rest, results[40:])
    written = db.score_reports.bulk_write([UpdateOne({"_id": r["_id"], "batch": r["batch"], "status": "queued"},
                                                     shadow.merge({"$set": f}, retry.update(i)))
                                           for i, (r, f) in enumerate(zip(rest, fields[40:]))]).modified_count
    assert written == 60
    retry.settle()
    counters.apply_pending(retry.token)
    docs = list(db.monitoring_counts.find())
    assert sum(c["n"] for c in docs) == 100
    labelled = sum(v.get("g", 0) + v.get("b", 0) for c in docs for v in c.get("o", {}).values())
    assert labelled == 100


def test_model_health_on_the_dashboards_draws_the_same_figures(admin, make_actor, db, run_worker, monitored):
    from maiascore.monitoring.service import metric_series

    rows, outcomes = zip(*held_out())
    score_all(admin, db, run_worker, list(rows), list(outcomes))
    health = admin.get("/models/active/monitoring").get_json()
    options = admin.get("/v6/widget-options").get_json()
    source = next(s for s in options["dataSources"] if s["name"] == "Model Health")
    assert {m["name"] for m in source["metrics"]} >= {"Score PSI", "Feature PSI", "AUC", "KS", "Bad Rate",
                                                      "Calibration Error", "Challenger Agreement"}
    report = next(r for r in admin.get("/v6/reports").get_json() if r["title"] == "Model health")
    reader = make_actor("Read Only", aid=admin.aid)
    cards = reader.get(f"/v6/reports/{report['reportId']}/mhact").get_json()["reportDataComponentData"]["data"]
    by_card = {c["cardId"]: c for c in cards}
    assert by_card["mhcnt"]["value"] == 200
    assert by_card["mhpsi"]["value"] == pytest.approx(health["scorePsi"]["value"], abs=1e-9)
    assert by_card["mhauc"]["value"] == pytest.approx(health["performance"]["auc"]["value"], abs=1e-9)
    assert by_card["mhkst"]["value"] == pytest.approx(health["performance"]["ks"]["value"], abs=1e-9)
    assert by_card["mhbad"]["value"] == pytest.approx(health["performance"]["badRate"]["value"], abs=1e-9)
    assert by_card["mhagr"]["value"] is None  # no challenger: nothing to agree on

    table = admin.get(f"/v6/reports/{report['reportId']}/mhfps").get_json()["reportDataComponentData"]
    psi = {d["groups"][0]["groupId"]: d["value"] for d in table["data"]}
    assert psi == {f["feature"]: pytest.approx(f["value"], abs=1e-9) for f in health["features"]}
    line = admin.get(f"/v6/reports/{report['reportId']}/mhaut").get_json()["reportDataComponentData"]["data"]
    assert [d["groups"][0]["groupId"] for d in line] == [monitored["version"]] * len(line)
    assert sum(d["count"] for d in line) == 200

    v7 = admin.get(f"/v7/dashboards/{report['reportId']}/widgets/mhact")
    assert v7.status_code == 200
    # the same figures for an alert, straight from the package
    [point] = metric_series(admin.aid, "auc", None, None, 93 * 86400, [monitored["version"]])
    assert point["value"] == pytest.approx(health["performance"]["auc"]["value"], abs=1e-9)
    assert point["count"] == 200
    bad = admin.get("/models/health-series?metric=nonsense")
    assert bad.status_code in (400, 422) and "metric" in bad.get_data(as_text=True)


def test_the_shadow_score_is_what_the_challenger_would_answer_as_the_active_model(admin, db, monitored):
    from maiascore.monitoring import shadow

    contender = install_model(admin.aid, activate=False, rounds=5)
    records = german_rows(50) + [{}, {"age_in_years": "not a number"}, {"purpose": "never seen"}]
    challenger = shadow._challenger_model(admin.aid, contender["version"])
    expected = [(r.score, r.probability) for r in challenger[0].score(records)]
    assert shadow.shadow_scores(challenger, records) == expected
