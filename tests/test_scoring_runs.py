"""Scoring runs end to end through the API with real RQ workers: a data set scored into a result
file (Parquet, CSV) or into score reports (idempotent by row key), cancel, permissions, resuming
after a worker is killed, and a run on the real Dask cluster."""
import io
import os
import signal
from importlib import resources

import pandas as pd
import pytest
from bson import ObjectId

from maiascore.connections import get_db
from maiascore.modeling import ScoringModel

from tests.conftest import wait_until
from tests.dask_fixtures import dask_cluster  # noqa: F401  the session's Dask cluster
from tests.model_fixtures import install_model, trained_model

GERMAN = pd.read_csv(io.BytesIO(resources.files("maiascore.modeling").joinpath("data", "germancredit.csv")
                                .read_bytes()), dtype=str, keep_default_na=False)


def data_csv(rows=1000):
    frame = pd.concat([GERMAN] * (rows // len(GERMAN) + 1), ignore_index=True).iloc[:rows].copy()
    frame.insert(0, "ref", [f"ref-{i}" for i in range(rows)])
    return frame.to_csv(index=False).encode()


def upload(actor, raw, name="applicants.csv"):
    r = actor.post("/datasets", data={"file": (io.BytesIO(raw), name)}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def expected_scores(rows=1000):
    model = trained_model()
    scorer = ScoringModel.from_bytes(model.booster_bytes, model.schema.to_dict(), "x")
    records = [{k: v for k, v in r.items() if k != "creditability"} for r in GERMAN.to_dict("records")]
    return [r.to_dict() for r in scorer.score(records)]


def finished(actor, run_id, timeout=60):
    """Polls MongoDB (the API's rate limit is not what is tested), then answers with the API's view."""
    runs = get_db().scoring_runs
    assert wait_until(lambda: runs.find_one({"_id": ObjectId(run_id),
                                             "status": {"$in": ["succeeded", "failed", "canceled"]}}),
                      timeout=timeout), actor.get(f"/scoring-runs/{run_id}").get_json()
    return actor.get(f"/scoring-runs/{run_id}").get_json()


@pytest.fixture
def group(admin, db):
    model = install_model(admin.aid)
    return admin, model, upload(admin, data_csv())


def test_a_data_set_is_scored_into_a_parquet_file(group, run_worker):
    admin, model, dataset = group
    r = admin.post("/scoring-runs", json={"dataset": dataset, "output": {"kind": "file", "rowKey": "ref"}})
    assert r.status_code == 200, r.get_json()
    run = r.get_json()
    assert run["status"] == "queued" and run["modelVersion"] == model["version"] and run["rowsTotal"] == 1000
    assert run["output"] == {"kind": "file", "format": "parquet", "rowKey": "ref", "topContributions": 0}
    assert admin.get(f"/scoring-runs/{run['id']}/result").status_code == 409
    run_worker(queues=("trainings",))
    done = finished(admin, run["id"])
    assert done["status"] == "succeeded", done
    assert done["rowsDone"] == 1000 and done["progress"] == 100 and done["engine"] == "local"
    assert done["result"]["rows"] == 1000 and done["result"]["format"] == "parquet"
    r = admin.get(f"/scoring-runs/{run['id']}/result")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/vnd.apache.parquet"
    table = pd.read_parquet(io.BytesIO(r.data))
    assert list(table.columns) == ["ref", "row", "score", "probability", "confidence", "modelVersion"]
    assert table["ref"].tolist() == [f"ref-{i}" for i in range(1000)] and table["row"].tolist() == list(range(1, 1001))
    single = expected_scores()  # what single-report scoring gives the same applicants
    assert table["score"].tolist() == [s["score"] for s in single]
    assert table["probability"].tolist() == pytest.approx([s["scoreProbability"] for s in single], abs=1e-6)
    assert table["confidence"].tolist() == [s["scoreConfidence"] for s in single]
    assert set(table["modelVersion"]) == {model["version"]}
    assert admin.get("/scoring-runs/count").get_json() == 1
    assert [x["id"] for x in admin.get("/scoring-runs?status=succeeded").get_json()] == [run["id"]]
    assert admin.get("/scoring-runs?status=queued").get_json() == []


def test_a_csv_result_carries_the_top_contributions(group, run_worker, cfg):
    admin, model, dataset = group
    cfg.SCORING_RUN_CHUNK_ROWS = 300  # four chunks, assembled in order
    r = admin.post("/scoring-runs", json={"dataset": dataset, "output": {"format": "csv", "topContributions": 3}})
    assert r.status_code == 200, r.get_json()
    run_worker(queues=("trainings",))
    assert finished(admin, r.get_json()["id"])["status"] == "succeeded"
    r = admin.get(f"/scoring-runs/{r.get_json()['id']}/result")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    table = pd.read_csv(io.BytesIO(r.data))
    assert list(table.columns) == ["row", "score", "probability", "confidence", "modelVersion", "top1Feature",
                                   "top1Contribution", "top2Feature", "top2Contribution", "top3Feature",
                                   "top3Contribution"]
    assert len(table) == 1000 and table["row"].tolist() == list(range(1, 1001))
    single = expected_scores()
    assert table["score"].tolist() == [s["score"] for s in single]
    assert table["top1Feature"].tolist() == [s["explanation"][0]["feature"] for s in single]


def test_a_run_into_reports_twice_creates_no_duplicates(group, run_worker, db):
    admin, model, dataset = group
    body = {"dataset": dataset, "output": {"kind": "reports", "rowKey": "ref"}}
    first = admin.post("/scoring-runs", json=body).get_json()
    assert first["output"]["topContributions"] == 5 and "format" not in first["output"]
    run_worker(queues=("trainings",))
    assert finished(admin, first["id"])["status"] == "succeeded"
    assert db.score_reports.count_documents({"aid": admin.aid}) == 1000
    second = admin.post("/scoring-runs", json=body).get_json()
    run_worker(queues=("trainings",))
    assert finished(admin, second["id"])["status"] == "succeeded"
    assert db.score_reports.count_documents({"aid": admin.aid}) == 1000
    assert len(db.score_reports.distinct("uuid", {"aid": admin.aid})) == 1000
    single = expected_scores()
    r = admin.get("/reports?uuid=ref-7")
    assert r.status_code == 200, r.get_json()
    [report] = r.get_json()
    assert report["status"] == "processed" and report["score"] == single[7]["score"]
    assert report["scoreVersion"] == model["version"]
    assert [(e["feature"], e["contribution"]) for e in report["explanation"]] == [
        (e["feature"], e["contribution"]) for e in single[7]["explanation"]]
    assert report["features"]["duration_in_month"] == int(GERMAN["duration_in_month"][7])
    assert "creditability" not in report["features"] and "ref" not in report["features"]
    assert admin.get(f"/scoring-runs/{first['id']}/result").status_code == 404


def test_a_queued_run_is_canceled_then_deleted(group, run_worker, db):
    admin, _, dataset = group
    run = admin.post("/scoring-runs", json={"dataset": dataset, "output": {"kind": "reports", "rowKey": "ref"}})
    run_id = run.get_json()["id"]
    r = admin.delete(f"/scoring-runs/{run_id}")
    assert r.status_code == 200 and r.get_json()["status"] == "canceled"
    run_worker(queues=("trainings",))
    assert admin.get(f"/scoring-runs/{run_id}").get_json()["status"] == "canceled"
    assert db.score_reports.count_documents({}) == 0
    assert admin.get(f"/scoring-runs/{run_id}/result").status_code == 404
    assert admin.delete(f"/scoring-runs/{run_id}").status_code == 200
    assert admin.get(f"/scoring-runs/{run_id}").status_code == 404


def test_permissions_and_refusals(group, make_actor):
    admin, _, dataset = group
    reader = make_actor("Read Only", aid=admin.aid)
    body = {"dataset": dataset, "output": {"kind": "file"}}
    r = reader.post("/scoring-runs", json=body)
    assert r.status_code == 403 and set(r.get_json()) >= {"code", "message"}
    assert make_actor("Regular User", aid=admin.aid).post("/scoring-runs", json=body).status_code == 403
    run_id = admin.post("/scoring-runs", json=body).get_json()["id"]
    assert reader.get(f"/scoring-runs/{run_id}").status_code == 200
    assert reader.get("/scoring-runs").status_code == 200 and reader.get("/scoring-runs/count").get_json() == 1
    assert reader.delete(f"/scoring-runs/{run_id}").status_code == 403
    stranger = make_actor()
    assert stranger.get(f"/scoring-runs/{run_id}").status_code == 404
    assert stranger.delete(f"/scoring-runs/{run_id}").status_code == 404
    assert stranger.get("/scoring-runs").get_json() == []
    assert admin.get("/scoring-runs/not-an-id").status_code == 404

    def refused(payload, fragment):
        r = admin.post("/scoring-runs", json=payload)
        assert r.status_code == 422 and fragment in str(r.get_json()), r.get_json()

    refused({"dataset": "0" * 24}, "No dataset")
    refused({"dataset": dataset, "output": {"kind": "reports"}}, "needs the column")
    refused({"dataset": dataset, "output": {"rowKey": "nope"}}, "no column 'nope'")
    refused({"dataset": dataset, "output": {"kind": "mail"}}, "kind")
    refused({"dataset": dataset, "output": {"topContributions": 99}}, "topContributions")
    refused({"dataset": dataset, "modelVersion": "99"}, "No model version 99")
    refused({"dataset": dataset, "colour": "red"}, "colour")
    refused({}, "dataset")
    other = upload(stranger, data_csv(100))
    refused({"dataset": other}, "No dataset")  # another group's data set is not found
    assert stranger.post("/scoring-runs", json={"dataset": other}).status_code == 422  # no active model
    assert "no active model" in str(stranger.post("/scoring-runs", json={"dataset": other}).get_json())
    assert admin.get("/scoring-runs?_sort=colour:ASC").status_code == 400


def test_a_killed_worker_is_resumed_without_scoring_a_row_twice(admin, db, cfg, live_worker, monkeypatch):
    install_model(admin.aid)
    dataset = upload(admin, data_csv(3000))
    cfg.SCORING_RUN_CHUNK_ROWS = 100
    monkeypatch.setenv("TRAINING_HEARTBEAT_SECONDS", "1")
    monkeypatch.setenv("SWEEP_INTERVAL_SECONDS", "1")
    run_id = admin.post("/scoring-runs", json={"dataset": dataset,
                                               "output": {"kind": "reports", "rowKey": "ref"}}).get_json()["id"]
    worker = live_worker(queues=("trainings",))
    oid = ObjectId(run_id)
    assert wait_until(lambda: 0 < db.scoring_runs.find_one({"_id": oid})["rowsDone"] < 3000,
                      timeout=60, interval=0.02)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    stopped = admin.get(f"/scoring-runs/{run_id}").get_json()
    assert stopped["status"] == "running" and 0 < stopped["rowsDone"] < 3000
    live_worker(queues=("trainings",))
    done = finished(admin, run_id, timeout=120)
    assert done["status"] == "succeeded" and done["attempts"] == 2 and done["error"] is None, done
    assert done["rowsDone"] == 3000
    assert db.score_reports.count_documents({"aid": admin.aid}) == 3000
    assert len(db.score_reports.distinct("uuid", {"aid": admin.aid})) == 3000
    # only the chunk in hand when the worker died may have been written twice (same scores, same report)
    assert db.score_reports.count_documents({"aid": admin.aid, "scoringRuns": {"$gt": 1}}) <= 100


def test_a_run_on_the_dask_cluster(admin, db, cfg, run_worker, dask_cluster, tmp_path, monkeypatch):  # noqa: F811
    root = tmp_path / "groups"
    (root / str(admin.aid)).mkdir(parents=True)
    (root / str(admin.aid) / "applicants.csv").write_bytes(data_csv(3000))
    for name, value in (("DATASET_ROOTS", f"file://{root}/{{aid}}/"), ("DASK_SCHEDULER_ADDRESS", dask_cluster.address)):
        setattr(cfg, name, value)
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DASK_BLOCKSIZE", "200000")  # several partitions
    install_model(admin.aid)
    r = admin.post("/datasets", json={"uri": f"file://{root}/{admin.aid}/applicants.csv"})
    assert r.status_code == 201, r.get_json()
    run = admin.post("/scoring-runs", json={"dataset": r.get_json()["id"], "output": {"rowKey": "ref"}}).get_json()
    run_worker(queues=("trainings",))
    done = finished(admin, run["id"])
    assert done["status"] == "succeeded", done
    assert done["engine"] == "dask" and done["dask"]["workers"] == 2 and done["dask"]["partitions"] > 1
    table = pd.read_parquet(io.BytesIO(admin.get(f"/scoring-runs/{run['id']}/result").data))
    assert table["ref"].tolist() == [f"ref-{i}" for i in range(3000)] and table["row"].tolist() == list(range(1, 3001))
    single = expected_scores()
    assert table["score"].tolist() == [single[i % 1000]["score"] for i in range(3000)]
