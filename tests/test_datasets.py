"""/datasets: CSV uploads into GridFS, inferred columns, bad files refused with the reason,
size limit, permissions, and trainings on uploaded data run by a real worker."""
import io
import json
from importlib import resources

import pytest

GERMAN_CREDIT = resources.files("maiascore.modeling").joinpath("data", "germancredit.csv").read_bytes()


def csv_bytes(rows, header="income,city,label"):
    return ("\n".join([header, *rows]) + "\n").encode()


def good_rows(n=40):
    return [f"{1000 + 50 * i},{['Lyon', 'Porto'][i % 2]},{'good' if i % 3 else 'bad'}" for i in range(n)]


def upload(actor, raw, filename="data.csv", **fields):
    data = {"file": (io.BytesIO(raw), filename), **fields}
    return actor.post("/datasets", data=data, content_type="multipart/form-data")


def uploaded(actor, raw, **fields):
    r = upload(actor, raw, **fields)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def assert_error(r, code, fragment=""):
    assert r.status_code == code, r.get_data(as_text=True)
    body = r.get_json()
    assert body["code"] == code and fragment in body["message"], body


def test_upload_infers_columns_and_target_and_stores_the_file(admin, db):
    dataset = uploaded(admin, GERMAN_CREDIT, filename="germancredit.csv")
    assert dataset["name"] == "germancredit.csv" and dataset["rows"] == 1000
    assert dataset["target"] == "creditability" and dataset["size"] == len(GERMAN_CREDIT)
    columns = {c["name"]: c["type"] for c in dataset["columns"]}
    assert len(columns) == 21
    assert columns["duration_in_month"] == "numeric" and columns["purpose"] == "categorical"
    assert dataset["created_by"] == admin.id and dataset["id"]
    stored = db.datasets.find_one()
    assert db["datasets.files"].find_one({"_id": stored["gridfs_id"]})["length"] == len(GERMAN_CREDIT)

    named = uploaded(admin, csv_bytes(good_rows(), header="income,city,verdict"), name="Q2 book", target="verdict")
    assert named["name"] == "Q2 book" and named["target"] == "verdict" and named["rows"] == 40
    assert [d["id"] for d in admin.get("/datasets").get_json()] == [named["id"], dataset["id"]]
    assert admin.get("/datasets/count").get_json() == 2
    assert [d["id"] for d in admin.get("/datasets?rows_gt=100").get_json()] == [dataset["id"]]
    assert admin.get(f"/datasets/{dataset['id']}").get_json() == dataset


def test_the_target_can_be_another_column_at_training_time(admin):
    dataset = uploaded(admin, csv_bytes([f"{r},{'yes' if i % 2 else 'no'}" for i, r in enumerate(good_rows())],
                                        header="income,city,label,repaid"))
    assert dataset["target"] == "label"
    r = admin.post("/trainings", json={"meta": {"dataset": dataset["id"], "target": "nope"}})
    assert_error(r, 422)
    assert "no column 'nope'" in json.dumps(r.get_json()["errors"])
    r = admin.post("/trainings", json={"meta": {"dataset": dataset["id"], "target": "repaid"}})
    assert r.status_code == 200 and r.get_json()["meta"]["target"] == "repaid"


@pytest.mark.parametrize("raw,fields,reason", [
    ("income,city,label\n1,é,good\n".encode("latin-1") * 30, {}, "not valid UTF-8"),
    (csv_bytes(good_rows()[:5] + ["7,Lyon"] + good_rows()[5:]), {}, "row 6 has 2 fields, expected 3"),
    (csv_bytes(good_rows(19)), {}, "at least 20"),
    (csv_bytes([f"{i},Lyon,good" for i in range(30)]), {}, "only one class"),
    (csv_bytes([f"{i},Lyon,{'good' if i % 2 else 'maybe'}" for i in range(30)]), {}, "unknown label 'maybe'"),
    (csv_bytes([f"{i},Lyon,{'bad' if i < 2 else 'good'}" for i in range(30)]), {}, "class 'bad' has only 2 rows"),
    (csv_bytes(good_rows()), {"target": "verdict"}, "target column 'verdict' not found"),
    (csv_bytes(good_rows(), header="income,city,verdict"), {}, "no target column: name the label column"),
    (csv_bytes([f"{'good' if i % 2 else 'bad'}" for i in range(30)], header="label"), {}, "no feature column"),
    (b"", {}, "empty"),
    (b"income,,label\n" + b"1,2,good\n" * 30, {}, "empty name"),
])
def test_bad_csvs_answer_400_with_the_reason(admin, db, raw, fields, reason):
    assert_error(upload(admin, raw, **fields), 400, reason)
    assert db.datasets.count_documents({}) == 0 and db["datasets.files"].count_documents({}) == 0


def test_upload_size_limit_and_shape_of_the_request(app, admin, db):
    app.config["MAIASCORE"].DATASET_MAX_BYTES = 500
    assert_error(upload(admin, csv_bytes(good_rows())), 413, "500 bytes")
    assert_error(admin.post("/datasets", json={"file": "income,label"}), 415, "multipart/form-data")
    assert_error(admin.post("/datasets", data={"name": "x"}, content_type="multipart/form-data"), 400, "'file'")
    assert db.datasets.count_documents({}) == 0


def test_delete_is_refused_while_a_pending_training_reads_it(admin, db):
    dataset = uploaded(admin, csv_bytes(good_rows()))
    training = admin.post("/trainings", json={"meta": {"dataset": dataset["id"]}}).get_json()
    assert_error(admin.delete(f"/datasets/{dataset['id']}"), 409, training["id"])
    admin.delete(f"/trainings/{training['id']}")
    r = admin.delete(f"/datasets/{dataset['id']}")
    assert r.status_code == 200 and r.get_json()["id"] == dataset["id"]
    assert_error(admin.get(f"/datasets/{dataset['id']}"), 404)
    assert db["datasets.files"].count_documents({}) == 0


def test_permissions_and_account_group_boundaries(client, admin, make_actor):
    dataset = uploaded(admin, csv_bytes(good_rows()))
    path = f"/datasets/{dataset['id']}"
    for method, url in [("get", "/datasets"), ("post", "/datasets"), ("get", path), ("delete", path),
                        ("get", "/datasets/count")]:
        r = getattr(client, method)(url)
        assert r.status_code == 403 and r.get_json()["message"] == "Forbidden: this operation requires authentication"

    reader = make_actor("Read Only", aid=admin.aid)
    assert reader.get(path).status_code == 200
    assert_error(upload(reader, csv_bytes(good_rows())), 403, "Manage Trainings")
    assert_error(reader.delete(path), 403, "Manage Trainings")

    stranger = make_actor("Account Admin")
    assert stranger.get("/datasets").get_json() == []
    assert_error(stranger.get(path), 404)
    assert_error(stranger.delete(path), 404)
    assert_error(stranger.get("/datasets/not-an-id"), 404)
    r = stranger.post("/trainings", json={"meta": {"dataset": dataset["id"]}})
    assert_error(r, 422)
    assert "No dataset" in json.dumps(r.get_json()["errors"])
    assert admin.get(path).status_code == 200


def test_trainings_on_uploads_succeed_or_fail_with_the_datasets_problem(admin, run_worker):
    good = uploaded(admin, GERMAN_CREDIT)
    # the column named as target at training time has a single class
    single = uploaded(admin, csv_bytes([f"{r},yes" for r in good_rows()], header="income,city,label,flag"))
    ok = admin.post("/trainings", json={"meta": {"dataset": good["id"], "seed": 5}}).get_json()
    bad = admin.post("/trainings", json={"meta": {"dataset": single["id"], "target": "flag"}}).get_json()
    assert ok["meta"]["target"] == "creditability" and bad["status"] == "queued"
    run_worker()

    done = admin.get(f"/trainings/{ok['id']}").get_json()
    assert done["status"] == "succeeded", done["error"]
    assert done["meta"]["metrics"]["auc"] >= 0.7
    schema = admin.get("/models/active").get_json()["schema"]
    assert len(schema["features"]) == 20 and schema["target"] == "creditability"

    failed = admin.get(f"/trainings/{bad['id']}").get_json()
    assert failed["status"] == "failed" and failed["error"] == "Invalid dataset: target 'flag' has only one class: good"
    assert failed["version"] is None and failed["binaryPath"] is None


def test_column_names_mongodb_dislikes_still_train(admin, run_worker):
    header = "income.monthly,$city,label"
    dataset = uploaded(admin, csv_bytes(good_rows(60), header=header))
    assert [c["name"] for c in dataset["columns"]] == ["income.monthly", "$city", "label"]
    training = admin.post("/trainings", json={"meta": {"dataset": dataset["id"]}}).get_json()
    run_worker()
    done = admin.get(f"/trainings/{training['id']}").get_json()
    assert done["status"] == "succeeded", done["error"]
    schema = admin.get("/models/active").get_json()["schema"]
    assert [f["name"] for f in schema["features"]] == ["income.monthly", "$city"]
    assert set(schema["gain_share"]) == {"income.monthly", "$city"}
