"""Model health: baselines, drift and realized performance from per-version counters, checked against
figures computed independently with numpy on the same reports; the challenger in shadow."""
import os
import signal

import numpy as np
import pytest
import redis
from model_fixtures import TARGET, german_rows, install_model, trained_model

from conftest import wait_until


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
