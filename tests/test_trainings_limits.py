"""Resource bounds refused at POST with a 400 naming the bound (by the job for the labelled reports), the
reports dataset built from the cells present, and ``PUT /trainings/{id}``: what a client may change, and why
the rest is refused."""
from datetime import datetime, timedelta, timezone

import pytest
from bson import ObjectId
from rq.registry import ScheduledJobRegistry
from test_datasets import assert_error, csv_bytes, good_rows

from config import reset_process_settings
from maiascore.modeling import Dataset, DatasetError
from maiascore.queue import TRAININGS, queue
from maiascore.datasets.labelled import reports_dataset
from maiascore.datasets import labelled, sources


def launch(actor, meta=None, **fields):
    r = actor.post("/trainings", json={**fields, **({"meta": meta} if meta is not None else {})})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def labelled_reports(db, aid, count, names, per_report=3):
    now = datetime.now(timezone.utc)
    db.score_reports.insert_many([
        {"aid": aid, "referenceId": f"r{i}", "status": "processed", "outcome": "good" if i % 3 else "bad",
         "features": {f"f{(i * per_report + j) % names}": i * 10 + j for j in range(per_report)},
         "created_at": now, "updated_at": now} for i in range(count)])


def test_rounds_times_depth_times_rows_is_bounded(app, admin, db):
    app.config["MAIASCORE"].TRAINING_WORK_BUDGET = 5000 * 16 * 1000  # the worst german-credit training fits
    launch(admin, {"dataset": "german-credit", "params": {"num_boost_round": 5000, "max_depth": 16}})
    app.config["MAIASCORE"].TRAINING_WORK_BUDGET = 1_000_000
    r = admin.post("/trainings", json={"meta": {"dataset": "german-credit",
                                                "params": {"num_boost_round": 500, "max_depth": 4}}})
    assert_error(r, 400, "500 x 4 x 1000 = 2000000 exceeds the training budget of 1000000 (TRAINING_WORK_BUDGET)")
    assert_error(admin.post("/trainings", json={"meta": {"dataset": "german-credit"}}), 400,
                 "400 x 3 x 1000")  # the defaults count too
    assert db.trainings.count_documents({}) == 1


def test_columns_are_bounded_on_upload_and_at_post(app, admin, db):
    dataset = admin.post("/datasets", data=csv_bytes(good_rows()), content_type="text/csv").get_json()
    app.config["MAIASCORE"].TRAINING_MAX_COLUMNS = 2
    assert_error(admin.post("/trainings", json={"meta": {"dataset": dataset["id"]}}), 400,
                 "3 columns; a training may use at most 2 (TRAINING_MAX_COLUMNS)")
    assert_error(admin.post("/datasets", data=csv_bytes(good_rows()), content_type="text/csv"), 400,
                 "at most 2 are allowed (TRAINING_MAX_COLUMNS)")
    assert_error(admin.post("/trainings", json={"meta": {"dataset": "german-credit"}}), 400, "TRAINING_MAX_COLUMNS")


def test_a_training_on_the_reports_is_queued_at_once_and_its_job_checks_the_bounds(admin, db, monkeypatch,
                                                                                    run_worker):
    labelled_reports(db, admin.aid, 30, names=12)

    def no_read_in_the_request(*args, **kwargs):
        raise AssertionError("the request read the group's reports")

    # the shape of the reports data set is measured by the job, never in the request
    monkeypatch.setattr(sources.ReportsSource, "shape", no_read_in_the_request)
    monkeypatch.setattr(labelled, "feature_names", no_read_in_the_request)
    monkeypatch.setattr(labelled, "count", no_read_in_the_request)
    monkeypatch.setenv("TRAINING_MAX_REPORT_FEATURES", "11")  # the job reads the worker's settings
    over = launch(admin, {"dataset": "reports"})
    assert over["status"] == "queued" and over["meta"]["dataset"] == "reports"
    run_worker(queues=("trainings",))
    failed = db.trainings.find_one({"_id": ObjectId(over["id"])})
    assert failed["status"] == "failed", failed
    assert "more than 11 distinct feature names" in failed["error"]
    assert "(TRAINING_MAX_REPORT_FEATURES)" in failed["error"]

    monkeypatch.setenv("TRAINING_MAX_REPORT_FEATURES", "12")
    monkeypatch.setenv("TRAINING_WORK_BUDGET", str(400 * 3 * 29))  # one row short of the 30 labelled reports
    budget = launch(admin, {"dataset": "reports"})
    run_worker(queues=("trainings",))
    failed = db.trainings.find_one({"_id": ObjectId(budget["id"])})
    assert failed["status"] == "failed" and "(TRAINING_WORK_BUDGET)" in failed["error"], failed

    monkeypatch.setenv("TRAINING_WORK_BUDGET", str(400 * 3 * 30))
    fits = launch(admin, {"dataset": "reports"})
    run_worker(queues=("trainings",))
    assert db.trainings.find_one({"_id": ObjectId(fits["id"])})["status"] == "succeeded"


def test_the_reports_dataset_holds_only_the_cells_present(admin, db, monkeypatch):
    labelled_reports(db, admin.aid, 40, names=25)
    db.score_reports.update_one({"referenceId": "r1"}, {"$set": {"features.city": "Lyon", "features.f0": None,
                                                                 "features.outcome": "good"}})
    dataset = reports_dataset(admin.aid)
    assert dataset.row_count == 40 and dataset.columns[-1] == "outcome" and len(dataset.columns) == 27
    assert dataset.column_types["city"] == "categorical" and dataset.column_types["f3"] == "numeric"
    # the same table the row-by-row build of the dicts gives
    rebuilt = Dataset(columns=dataset.columns, rows=dataset.rows, column_types=dataset.column_types,
                      target="outcome")
    assert rebuilt.rows == dataset.rows
    assert dataset.rows[1]["city"] == "Lyon" and dataset.rows[0]["city"] is None
    monkeypatch.setenv("TRAINING_MAX_REPORT_FEATURES", "5")  # the job reads the worker's settings
    reset_process_settings()
    with pytest.raises(DatasetError, match="more than 5 distinct feature names"):
        reports_dataset(admin.aid)
    monkeypatch.delenv("TRAINING_MAX_REPORT_FEATURES")
    reset_process_settings()


def test_put_changes_the_note_at_any_time_and_parameters_before_the_start(admin, db):
    t = launch(admin, {"dataset": "german-credit", "note": "first"})
    r = admin.put(f"/trainings/{t['id']}", json={"meta": {"note": "second", "seed": 7}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["meta"]["note"] == "second" and r.get_json()["meta"]["seed"] == 7
    echo = admin.get(f"/trainings/{t['id']}").get_json()
    echo["meta"]["note"] = "third"
    r = admin.put(f"/trainings/{t['id']}", json=echo)  # a client echoing the whole entry back
    assert r.status_code == 200 and r.get_json()["meta"]["note"] == "third", r.get_json()

    db.trainings.update_one({"_id": db.trainings.find_one()["_id"]}, {"$set": {"status": "succeeded"}})
    r = admin.put(f"/trainings/{t['id']}", json={"meta": {"note": "after the fact"}})
    assert r.status_code == 200 and r.get_json()["meta"]["note"] == "after the fact"
    assert_error(admin.put(f"/trainings/{t['id']}", json={"meta": {"seed": 8}}), 409, "only meta.note")
    assert_error(admin.put(f"/trainings/{t['id']}", json={"scheduledAt": "2999-01-01T00:00:00Z"}), 409,
                 "only a scheduled training")


@pytest.mark.parametrize("body, status, fragment", [
    ({"status": "canceled"}, 400, "DELETE"),
    ({"active": True}, 400, "/activate"),
    ({"uuid": "another"}, 400, "'uuid' cannot be changed"),
    ({"colour": "red"}, 400, "Unknown field 'colour'"),
    ({"meta": {"params": {"max_depth": 99}}}, 422, ""),
    ({"meta": {"dataset": "nope"}}, 422, ""),
    ({"cron": "every day"}, 422, ""),
])
def test_put_refuses_what_cannot_change_with_the_reason(admin, body, status, fragment):
    t = launch(admin, {"dataset": "german-credit"}, uuid="mine")
    assert_error(admin.put(f"/trainings/{t['id']}", json=body), status, fragment)
    assert admin.get(f"/trainings/{t['id']}").get_json()["meta"] == t["meta"]


def test_put_checks_the_bounds_and_moves_a_schedule_not_yet_started(app, admin):
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    t = launch(admin, {"dataset": "german-credit"}, scheduledAt=later.isoformat())
    app.config["MAIASCORE"].TRAINING_WORK_BUDGET = 1_000_000
    assert_error(admin.put(f"/trainings/{t['id']}", json={"meta": {"params": {"num_boost_round": 1000}}}), 400,
                 "TRAINING_WORK_BUDGET")
    much_later = later + timedelta(days=1)
    r = admin.put(f"/trainings/{t['id']}", json={"scheduledAt": much_later.isoformat()})
    assert r.status_code == 200 and r.get_json()["status"] == "scheduled"
    with app.app_context():
        registry = ScheduledJobRegistry(queue=queue(TRAININGS))
        assert registry.get_scheduled_time(f"train-{t['id']}").timestamp() >= much_later.timestamp() - 1
    assert_error(admin.put(f"/trainings/{t['id']}", json={"scheduledAt": "2001-01-01T00:00:00Z"}), 422)
    r = admin.put(f"/trainings/{t['id']}", json={"scheduledAt": None})
    assert r.status_code == 200 and r.get_json()["status"] == "queued" and r.get_json()["scheduledAt"] is None
    with app.app_context():
        assert queue(TRAININGS).fetch_job(f"train-{t['id']}").get_status() == "queued"


def test_put_needs_the_manage_permission_and_the_group(admin, make_actor):
    t = launch(admin, {"dataset": "german-credit"})
    viewer = make_actor("Read Only", aid=admin.aid)
    assert viewer.put(f"/trainings/{t['id']}", json={"meta": {"note": "x"}}).status_code == 403
    stranger = make_actor("Account Admin")
    assert_error(stranger.put(f"/trainings/{t['id']}", json={"meta": {"note": "x"}}), 404)
