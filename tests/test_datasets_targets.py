"""Any binary target: ``positiveLabel`` on upload and on a training, the errors naming the labels found,
a raw ``text/csv`` upload, and a model whose positive class is the minority scoring for that class."""
import io

import pytest

from test_datasets import assert_error, csv_bytes


def churn_rows(n=120):
    """``churned`` is the minority (one row in four) and comes with short tenures."""
    rows = []
    for i in range(n):
        churned = i % 4 == 0
        tenure = (i % 7) + 1 if churned else 30 + (i % 50)
        rows.append(f"{tenure},{['basic', 'premium'][i % 2]},{'churned' if churned else 'stayed'}")
    return rows


CHURN = csv_bytes(churn_rows(), header="tenure,plan,status")


def upload(actor, raw, **fields):
    return actor.post("/datasets", data={"file": (io.BytesIO(raw), "churn.csv"), **fields},
                      content_type="multipart/form-data")


def test_two_unknown_labels_need_a_positive_label_named_among_them(admin, db):
    r = upload(admin, CHURN, target="status")
    assert_error(r, 400, "'churned' and 'stayed'")
    assert "positiveLabel" in r.get_json()["message"]
    assert_error(upload(admin, CHURN, target="status", positiveLabel="left"), 400, "positiveLabel 'left'")
    three = csv_bytes([f"{i},x,{['M', 'B', 'X'][i % 3]}" for i in range(30)], header="a,b,diagnosis")
    r = upload(admin, three, target="diagnosis")
    assert_error(r, 400, "3 labels ('B', 'M', 'X')")
    assert db.datasets.count_documents({}) == 0

    r = upload(admin, CHURN, target="status", positiveLabel="churned")
    assert r.status_code == 201, r.get_json()
    dataset = r.get_json()
    assert dataset["positiveLabel"] == "churned" and dataset["negativeLabel"] == "stayed"


def test_known_pairs_keep_their_default_and_may_be_flipped(admin):
    r = upload(admin, csv_bytes([f"{i},x,{'yes' if i % 2 else 'no'}" for i in range(30)], header="a,b,label"))
    assert r.status_code == 201 and r.get_json()["positiveLabel"] == "yes"
    r = upload(admin, csv_bytes([f"{i},x,{'yes' if i % 2 else 'no'}" for i in range(30)], header="a,b,label"),
               positiveLabel="no")
    assert r.status_code == 201 and (r.get_json()["positiveLabel"], r.get_json()["negativeLabel"]) == ("no", "yes")
    numbers = csv_bytes([f"{i},x,{2 if i % 2 else 1}" for i in range(30)], header="a,b,label")
    assert_error(upload(admin, numbers), 400, "'1' and '2'")
    r = upload(admin, numbers, positiveLabel="2")
    assert r.status_code == 201 and r.get_json()["positiveLabel"] == "2"


def test_a_raw_text_csv_body_is_an_upload(app, admin):
    r = admin.post("/datasets?name=Churn%20Q3&target=status&positiveLabel=churned", data=CHURN,
                   content_type="text/csv")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["name"] == "Churn Q3" and r.get_json()["rows"] == 120
    assert r.get_json()["positiveLabel"] == "churned"
    assert_error(admin.post("/datasets?target=status", data=CHURN, content_type="text/csv"), 400, "positiveLabel")
    assert_error(admin.post("/datasets", data=b"plain", content_type="text/plain"), 415, "text/csv")
    app.config["MAIASCORE"].DATASET_MAX_BYTES = 100
    assert_error(admin.post("/datasets?target=status", data=CHURN, content_type="text/csv"), 413, "100 bytes")
    spec = admin.get("/openapi.json").get_json()
    assert "text/csv" in spec["paths"]["/datasets"]["post"]["requestBody"]["content"]


def test_a_trainings_positive_label_is_checked_against_the_uploads_labels(admin):
    dataset = upload(admin, CHURN, target="status", positiveLabel="churned").get_json()
    r = admin.post("/trainings", json={"meta": {"dataset": dataset["id"], "positiveLabel": "gone"}})
    assert_error(r, 422)
    assert "'stayed' or 'churned'" in str(r.get_json()["errors"])
    r = admin.post("/trainings", json={"meta": {"dataset": dataset["id"]}})
    assert r.status_code == 200 and r.get_json()["meta"]["positiveLabel"] == "churned"
    r = admin.post("/trainings", json={"meta": {"dataset": dataset["id"], "positiveLabel": "stayed"}})
    assert r.status_code == 200 and r.get_json()["meta"]["positiveLabel"] == "stayed"
    r = admin.post("/trainings", json={"meta": {"dataset": "reports", "positiveLabel": "churned"}})
    assert_error(r, 422)


def test_the_minority_positive_class_is_what_scores_explanations_and_metrics_are_about(admin, run_worker, db):
    dataset = upload(admin, CHURN, target="status", positiveLabel="churned").get_json()
    r = admin.post("/trainings", json={"meta": {"dataset": dataset["id"], "params": {"num_boost_round": 60}}})
    training_id = r.get_json()["id"]
    run_worker(queues=("trainings",))
    t = admin.get(f"/trainings/{training_id}").get_json()
    assert t["status"] == "succeeded", t["error"]
    metrics = t["meta"]["metrics"]
    assert metrics["positiveLabel"] == "churned" and metrics["negativeLabel"] == "stayed"
    c = metrics["confusion"]
    assert c["tp"] + c["fn"] == 6 and c["tn"] + c["fp"] == 18  # the test part: a quarter of 24 rows churned
    assert metrics["confusionMatrix"]["labels"] == ["stayed", "churned"]
    assert metrics["confusionMatrix"]["matrix"] == [[c["tn"], c["fp"]], [c["fn"], c["tp"]]]
    assert metrics["recall"] == pytest.approx(c["tp"] / 6, abs=1e-6) and metrics["auc"] >= 0.9

    for reference, tenure in (("short", 2), ("long", 60)):
        r = admin.post("/reports", json={"referenceId": reference, "features": {"tenure": tenure, "plan": "basic"}})
        assert r.status_code == 200, r.get_json()
    run_worker(queues=("scores",))
    short = db.score_reports.find_one({"referenceId": "short"})
    long = db.score_reports.find_one({"referenceId": "long"})
    assert short["status"] == long["status"] == "processed"
    assert short["scoreProbability"] > 0.5 > long["scoreProbability"]  # P(churned)
    tenure = {e["feature"]: e["contribution"] for e in short["explanation"]}["tenure"]
    assert tenure > 0  # a short tenure pushes towards the positive class, churned
