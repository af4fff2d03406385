"""Data sets registered by URI (access control under DATASET_ROOTS, the upload's checks on a
sample) and trainings on a real Dask cluster (a scheduler and two workers) through the API."""
import gzip
import io
import re
from importlib import resources

import pandas as pd
import pytest

from tests.conftest import wait_until
from tests.dask_fixtures import dask_cluster  # noqa: F401  the session's Dask cluster

GERMAN_CREDIT = resources.files("maiascore.modeling").joinpath("data", "germancredit.csv").read_bytes()


@pytest.fixture
def roots(cfg, tmp_path, monkeypatch):
    """Each group's files under <tmp>/groups/<aid>/, for the web app and for the workers it starts."""
    base = tmp_path / "groups"
    base.mkdir()
    value = f"file://{base}/{{aid}}/"
    cfg.DATASET_ROOTS = value
    monkeypatch.setenv("DATASET_ROOTS", value)
    return base


def group_dir(roots, actor):
    path = roots / str(actor.aid)
    path.mkdir(exist_ok=True)
    return path


def register(actor, uri, **fields):
    return actor.post("/datasets", json={"uri": uri, **fields})


def assert_error(r, code, fragment=""):
    assert r.status_code == code, r.get_data(as_text=True)
    body = r.get_json()
    assert body["code"] == code and fragment in body["message"], body


def test_a_csv_parquet_or_gzip_file_is_registered_by_uri_with_its_schema(admin, roots, db):
    home = group_dir(roots, admin)
    (home / "credit.csv").write_bytes(GERMAN_CREDIT)
    r = register(admin, f"file://{home}/credit.csv", name="Book")
    assert r.status_code == 201, r.get_json()
    dataset = r.get_json()
    assert dataset["name"] == "Book" and dataset["rows"] == 1000 and dataset["rowsEstimated"] is False
    assert dataset["target"] == "creditability" and dataset["format"] == "csv"
    assert dataset["uri"] == f"file://{home}/credit.csv" and dataset["size"] == len(GERMAN_CREDIT)
    columns = {c["name"]: c["type"] for c in dataset["columns"]}
    assert columns["duration_in_month"] == "numeric" and columns["purpose"] == "categorical"
    assert "gridfs_id" not in db.datasets.find_one({"_id": __import__("bson").ObjectId(dataset["id"])})
    assert admin.get(f"/datasets/{dataset['id']}").get_json() == dataset

    (home / "credit.csv.gz").write_bytes(gzip.compress(GERMAN_CREDIT))
    r = register(admin, f"file://{home}/credit.csv.gz")
    assert r.status_code == 201 and r.get_json()["rows"] == 1000 and r.get_json()["name"] == "credit.csv.gz"

    pd.read_csv(io.BytesIO(GERMAN_CREDIT)).to_parquet(home / "credit.parquet")
    r = register(admin, f"file://{home}/credit.parquet")
    assert r.status_code == 201, r.get_json()
    parquet = r.get_json()
    assert parquet["format"] == "parquet" and parquet["rows"] == 1000
    assert parquet["columns"] == dataset["columns"]

    # a sample of a large file: the schema from the first DATASET_SAMPLE_BYTES, the rows estimated
    admin.client.application.config["MAIASCORE"].DATASET_SAMPLE_BYTES = 50_000
    r = register(admin, f"file://{home}/credit.csv")
    assert r.status_code == 201 and r.get_json()["rowsEstimated"] is True
    assert 800 < r.get_json()["rows"] < 1200

    # deleting the entry leaves the customer's file where it is
    assert admin.delete(f"/datasets/{dataset['id']}").status_code == 200
    assert (home / "credit.csv").exists()


def test_a_group_reaches_only_its_own_root(make_actor, roots):
    alice, bob = make_actor(), make_actor()
    theirs = group_dir(roots, bob)
    (theirs / "secret.csv").write_bytes(GERMAN_CREDIT)
    mine = group_dir(roots, alice)
    (mine / "link.csv").symlink_to(theirs / "secret.csv")
    (mine / "sub").mkdir()
    for uri in (f"file://{theirs}/secret.csv", "file:///etc/passwd", f"file://{mine}/../{bob.aid}/secret.csv",
                f"file://{mine}/link.csv", f"file://{mine}%2F..%2F{bob.aid}%2Fsecret.csv"):
        assert_error(register(alice, uri), 403, "DATASET_ROOTS")
    assert register(bob, f"file://{theirs}/secret.csv").status_code == 201
    assert_error(register(alice, "http://example.com/x.csv"), 400, "file:// or s3://")
    assert_error(register(alice, f"file://{mine}/*.csv"), 400, "pattern")
    assert_error(register(alice, f"file://{mine}/missing.csv"), 400, "no such file")
    assert_error(register(alice, "file://otherhost/data.csv"), 400, "this host")
    assert_error(alice.post("/datasets", json={"name": "no uri"}), 415, "uri")
    r = alice.post("/datasets", json={"uri": 5, "colour": "red"})
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"uri", "colour"}


def test_no_roots_means_no_uri_data_sets(admin, cfg):
    cfg.DATASET_ROOTS = ""
    assert_error(register(admin, "file:///etc/passwd"), 403, "no DATASET_ROOTS")


def test_a_bad_file_gets_the_uploads_400(admin, roots):
    home = group_dir(roots, admin)
    (home / "one.csv").write_text("only\n" + "\n".join("1" for _ in range(30)) + "\n")
    upload = admin.post("/datasets", data={"file": (io.BytesIO((home / "one.csv").read_bytes()), "one.csv")},
                        content_type="multipart/form-data")
    r = register(admin, f"file://{home}/one.csv")
    assert_error(r, 400, "Invalid dataset")
    assert r.get_json()["message"] == upload.get_json()["message"]
    (home / "junk.parquet").write_bytes(b"not parquet at all")
    assert_error(register(admin, f"file://{home}/junk.parquet"), 400, "cannot be read")
    (home / "data.xlsx").write_bytes(b"x")
    assert_error(register(admin, f"file://{home}/data.xlsx"), 400, "unknown format")


def test_the_dask_engine_needs_a_cluster_and_a_uri_data_set(admin, cfg, roots):
    r = admin.post("/trainings", json={"meta": {"dataset": "german-credit", "engine": "dask"}})
    assert r.status_code == 422 and "DASK_SCHEDULER_ADDRESS" in str(r.get_json()["errors"])
    cfg.DASK_SCHEDULER_ADDRESS = "tcp://127.0.0.1:1"
    r = admin.post("/trainings", json={"meta": {"dataset": "german-credit", "engine": "dask"}})
    assert r.status_code == 422 and "registered by URI" in str(r.get_json()["errors"])
    r = admin.post("/trainings", json={"meta": {"dataset": "german-credit", "engine": "gpu"}})
    assert r.status_code == 422 and "engine" in r.get_json()["errors"]["meta"]


def test_a_training_on_dask_matches_a_local_one(admin, cfg, roots, dask_cluster, monkeypatch, run_worker, db):
    home = group_dir(roots, admin)
    (home / "credit.csv").write_bytes(GERMAN_CREDIT)
    dataset = register(admin, f"file://{home}/credit.csv").get_json()
    cfg.DASK_SCHEDULER_ADDRESS = dask_cluster.address
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dask_cluster.address)
    monkeypatch.setenv("DASK_BLOCKSIZE", "60000")  # several partitions from a small file
    monkeypatch.setenv("DASK_ROUNDS_PER_CHUNK", "20")
    params = {"num_boost_round": 60, "early_stopping_rounds": 20}
    trainings = {}
    for engine in ("local", "auto"):
        r = admin.post("/trainings", json={"meta": {"dataset": dataset["id"], "engine": engine, "seed": 7,
                                                    "params": params, "activate": "never"}})
        assert r.status_code == 200, r.get_json()
        trainings[engine] = r.get_json()["id"]
    run_worker(queues=("trainings",))
    local, dask = (db.trainings.find_one({"_id": __import__("bson").ObjectId(trainings[k])}) for k in ("local", "auto"))
    assert local["status"] == "succeeded", local.get("error")
    assert dask["status"] == "succeeded", dask.get("error")
    assert local["engine"] == "local" and dask["engine"] == "dask"
    assert dask["dask"]["workers"] == 2 and dask["dask"]["partitions"] > 1
    models = {m["training"]: m for m in db.models.find({"aid": admin.aid})}
    local_model, dask_model = models[trainings["local"]], models[trainings["auto"]]
    schema = {k: v for k, v in dask_model["schema"].items() if k != "gain_share"}
    assert schema == {k: v for k, v in local_model["schema"].items() if k != "gain_share"}
    assert abs(local_model["metrics"]["auc"] - dask_model["metrics"]["auc"]) <= 0.01
    assert dask_model["metrics"]["rows"] == local_model["metrics"]["rows"]
    shown = admin.get(f"/trainings/{trainings['auto']}").get_json()
    assert shown["status"] == "succeeded" and shown["progress"] == 100


def test_cancel_stops_a_dask_training_and_releases_its_data(admin, cfg, roots, dask_cluster, monkeypatch,
                                                            live_worker, db):
    from distributed import Client

    home = group_dir(roots, admin)
    (home / "credit.csv").write_bytes(GERMAN_CREDIT)
    dataset = register(admin, f"file://{home}/credit.csv").get_json()
    cfg.DASK_SCHEDULER_ADDRESS = dask_cluster.address
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dask_cluster.address)
    monkeypatch.setenv("DASK_ROUNDS_PER_CHUNK", "2")
    r = admin.post("/trainings", json={"meta": {"dataset": dataset["id"], "engine": "dask", "params": {
        "num_boost_round": 5000, "early_stopping_rounds": 500, "max_depth": 8, "eta": 0.01}}})
    training_id = r.get_json()["id"]
    live_worker(queues=("trainings",), scheduler=False)
    assert wait_until(lambda: admin.get(f"/trainings/{training_id}").get_json()["progress"] > 0, timeout=60)
    assert admin.delete(f"/trainings/{training_id}").get_json()["status"] == "canceled"
    with Client(dask_cluster.address, set_as_default=False) as client:
        assert wait_until(lambda: not client.has_what() or not any(client.has_what().values()), timeout=30)
    doc = db.trainings.find_one({"_id": __import__("bson").ObjectId(training_id)})
    assert doc["status"] == "canceled" and doc["engine"] == "dask"
    assert db.models.count_documents({"training": training_id}) == 0


def test_any_two_labels_train_on_dask_with_the_positive_class_named(admin, cfg, roots, dask_cluster, monkeypatch,
                                                                    run_worker, db):
    home = group_dir(roots, admin)
    renamed = re.sub(rb",bad(\r?\n)", rb",defaulted\1", re.sub(rb",good(\r?\n)", rb",paid\1", GERMAN_CREDIT))
    (home / "renamed.csv").write_bytes(renamed)
    assert_error(register(admin, f"file://{home}/renamed.csv"), 400, "positiveLabel")
    r = register(admin, f"file://{home}/renamed.csv", positiveLabel="paid")
    assert r.status_code == 201, r.get_json()
    cfg.DASK_SCHEDULER_ADDRESS = dask_cluster.address
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dask_cluster.address)
    r = admin.post("/trainings", json={"meta": {"dataset": r.get_json()["id"], "engine": "dask",
                                                "params": {"num_boost_round": 20}}})
    assert r.status_code == 200, r.get_json()
    run_worker(queues=("trainings",))
    doc = db.trainings.find_one({"_id": __import__("bson").ObjectId(r.get_json()["id"])})
    assert doc["status"] == "succeeded", doc.get("error")
    metrics = doc["meta"]["metrics"]
    assert (metrics["positiveLabel"], metrics["negativeLabel"]) == ("paid", "defaulted")
    assert metrics["confusionMatrix"]["labels"] == ["defaulted", "paid"]
