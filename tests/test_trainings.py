"""POST /trainings in every encoding the seed sends, validation, idempotency, the Strapi list,
cancel/delete and the permission and account-group boundaries (no worker runs here)."""
import json
from datetime import datetime, timedelta, timezone

import pytest
import redis
from rq import Queue
from maiascore.queue import queue_name

SEED_BODY = ('{"uuid":"string","accuracy":0,"precission":0,"mae":0,"rmse":0,"binaryPath":"string",'
             '"version":"string","meta":"string"}')
SEED_XML = """<?xml version="1.0" encoding="utf-8"?>
<item>
  <uuid>string</uuid>
  <accuracy>0</accuracy>
  <precission>0</precission>
  <mae>0</mae>
  <rmse>0</rmse>
  <binaryPath>string</binaryPath>
  <version>string</version>
  <meta>string</meta>
</item>"""
FORM = "application/x-www-form-urlencoded"


def trainings_queue(cfg):
    return Queue(queue_name("trainings"), connection=redis.Redis.from_url(cfg.REDIS_URL))


def launch(actor, meta=None, **fields):
    body = dict(fields)
    if meta is not None:
        body["meta"] = meta
    r = actor.post("/trainings", json=body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def assert_error(r, code, *fragments):
    assert r.status_code == code, r.get_data(as_text=True)
    body = r.get_json()
    assert body["code"] == code and body["message"]
    text = json.dumps(body)
    for fragment in fragments:
        assert fragment in text, text


def assert_computed_fields_untouched(training):
    assert training["accuracy"] is None and training["precission"] is None
    assert training["mae"] is None and training["rmse"] is None
    assert training["binaryPath"] is None and training["version"] is None


@pytest.mark.parametrize("kwargs", [
    dict(data=SEED_BODY, content_type=FORM),  # the seed's curl, Node, Python and PHP snippets
    dict(data=SEED_BODY, content_type="application/json"),
    dict(data=SEED_XML, content_type="application/xml"),
    dict(data={"uuid": "string", "accuracy": "0", "precission": "0", "mae": "0", "rmse": "0",
               "binaryPath": "string", "version": "string", "meta": "string"}, content_type=FORM),
])
def test_the_seeds_body_is_accepted_and_output_fields_are_ignored(cfg, admin, db, kwargs):
    r = admin.post("/trainings", **kwargs)
    assert r.status_code == 200, r.get_json()
    training = r.get_json()
    assert training["uuid"] == "string"
    assert training["status"] == "queued" and training["progress"] == 0
    assert_computed_fields_untouched(training)
    for key in ("id", "scheduledAt", "startedAt", "finishedAt", "error", "published_at", "created_by", "updated_by"):
        assert key in training
    assert training["created_by"] == admin.id and training["published_at"]
    # meta came as text, so it goes back as text: the seed's "string" is kept as a note, defaults apply
    meta = json.loads(training["meta"])
    assert meta["note"] == "string" and meta["dataset"] == "german-credit" and meta["target"] == "creditability"
    assert meta["activate"] == "if-better" and meta["testSize"] == 0.2 and meta["seed"] == 42
    stored = db.trainings.find_one({"aid": admin.aid})
    assert stored["meta"]["note"] == "string" and stored["accuracy"] is None
    assert trainings_queue(cfg).job_ids == [f"train-{training['id']}"]


def test_meta_keeps_the_shape_it_came_in(admin):
    as_object = launch(admin, {"dataset": "german-credit", "params": {"max_depth": 4}, "seed": 7})
    assert as_object["meta"]["params"] == {"max_depth": 4} and as_object["meta"]["seed"] == 7
    as_text = launch(admin, json.dumps({"dataset": "german-credit", "testSize": 0.25}))
    assert isinstance(as_text["meta"], str)
    assert json.loads(as_text["meta"])["testSize"] == 0.25
    fetched = admin.get(f"/trainings/{as_text['id']}").get_json()
    assert fetched["meta"] == as_text["meta"]


def test_xml_meta_as_elements_is_typed(admin):
    xml = ("<item><uuid>xml-1</uuid><meta><dataset>german-credit</dataset><params><max_depth>4</max_depth>"
           "<eta>0.2</eta></params><testSize>0.25</testSize><seed>9</seed><activate>never</activate></meta></item>")
    r = admin.post("/trainings", data=xml, content_type="application/xml")
    assert r.status_code == 200, r.get_json()
    meta = r.get_json()["meta"]
    assert meta["params"] == {"max_depth": 4, "eta": 0.2}
    assert meta["testSize"] == 0.25 and meta["seed"] == 9 and meta["activate"] == "never"


def test_response_can_be_xml(admin):
    training = launch(admin, {"dataset": "german-credit"})
    r = admin.get(f"/trainings/{training['id']}", headers={"Accept": "application/xml"})
    assert r.status_code == 200 and r.mimetype == "application/xml"
    assert f"<id>{training['id']}</id>" in r.get_data(as_text=True)


def test_same_uuid_returns_the_existing_training_and_starts_nothing(cfg, admin, make_actor, db):
    first = launch(admin, {"dataset": "german-credit"}, uuid="nightly-2024-06-01")
    again = launch(admin, {"dataset": "german-credit", "seed": 1}, uuid="nightly-2024-06-01")
    assert again["id"] == first["id"] and again["meta"]["seed"] == 42
    assert db.trainings.count_documents({"uuid": "nightly-2024-06-01"}) == 1
    assert trainings_queue(cfg).count == 1
    # uuids are unique per account group, not across groups
    other = make_actor("Account Admin")
    theirs = launch(other, {"dataset": "german-credit"}, uuid="nightly-2024-06-01")
    assert theirs["id"] != first["id"]


@pytest.mark.parametrize("body,fragment", [
    ({"meta": '{"dataset": "german-credit",}'}, "not a valid JSON object"),
    ({"meta": 42}, "Must be an object or a text"),
    ({"meta": {"datset": "german-credit"}}, "Unknown key"),
    ({"meta": {"params": {"max_depth": 99}}}, "max_depth"),
    ({"meta": {"params": {"booster": "gblinear"}}}, "unknown parameter 'booster'"),
    ({"meta": {"params": "deep"}}, "params must be an object"),
    ({"meta": {"testSize": 0.9}}, "testSize"),
    ({"meta": {"seed": -1}}, "seed"),
    ({"meta": {"activate": "sometimes"}}, "if-better"),
    ({"meta": {"dataset": "mnist"}}, "german-credit"),
    ({"meta": {"dataset": "0123456789abcdef01234567"}}, "No dataset 0123456789abcdef01234567"),
    ({"meta": {"dataset": "reports", "target": "age"}}, "outcome"),
    ({"scheduledAt": "2001-01-01T00:00:00Z"}, "Must be in the future"),
    ({"scheduledAt": "tomorrow"}, "scheduledAt"),
    ({"cron": "every day"}, "five-field cron"),
    ({"uuid": ""}, "uuid"),
    ({"unexpected": 1}, "unexpected"),
])
def test_invalid_bodies_answer_422_with_the_reason(cfg, admin, db, body, fragment):
    r = admin.post("/trainings", json=body)
    assert_error(r, 422, fragment)
    assert db.trainings.count_documents({}) == 0
    assert trainings_queue(cfg).count == 0


def test_a_body_that_is_not_an_object_is_refused(admin):
    assert_error(admin.post("/trainings", json=[{"uuid": "a"}]), 422)
    assert_error(admin.post("/trainings", data="{broken", content_type=FORM), 400)


def test_empty_body_launches_with_defaults(admin):
    r = admin.post("/trainings")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["meta"]["dataset"] == "german-credit"


def test_scheduled_training_waits_in_rqs_scheduler_and_can_be_canceled(cfg, admin, db):
    at = datetime.now(timezone.utc) + timedelta(hours=1)
    training = launch(admin, {"dataset": "german-credit"}, scheduledAt=at.isoformat())
    assert training["status"] == "scheduled"
    queue = trainings_queue(cfg)
    assert queue.count == 0
    assert queue.scheduled_job_registry.get_job_ids() == [f"train-{training['id']}"]
    r = admin.delete(f"/trainings/{training['id']}")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "canceled" and r.get_json()["finishedAt"]
    assert queue.scheduled_job_registry.get_job_ids() == []
    # a second DELETE removes the canceled entry
    assert admin.delete(f"/trainings/{training['id']}").status_code == 200
    assert_error(admin.get(f"/trainings/{training['id']}"), 404)


def test_cron_without_a_start_is_scheduled_at_its_next_occurrence(admin):
    training = launch(admin, {"dataset": "german-credit"}, cron="0 3 * * *")
    assert training["status"] == "scheduled" and training["cron"] == "0 3 * * *"
    scheduled = datetime.fromisoformat(training["scheduledAt"])
    assert (scheduled.hour, scheduled.minute) == (3, 0) and scheduled > datetime.now(timezone.utc)


def test_cancel_a_queued_training_removes_its_job(cfg, admin):
    training = launch(admin, {"dataset": "german-credit"})
    r = admin.delete(f"/trainings/{training['id']}")
    assert r.status_code == 200 and r.get_json()["status"] == "canceled"
    assert trainings_queue(cfg).count == 0


def test_list_count_sort_and_filters(admin, db):
    ids = [launch(admin, {"dataset": "german-credit"}, uuid=f"u{i}")["id"] for i in range(3)]
    admin.delete(f"/trainings/{ids[0]}")
    listed = admin.get("/trainings").get_json()
    assert [t["id"] for t in listed] == ids[::-1]  # newest first by default
    assert [t["id"] for t in admin.get("/trainings?_sort=created_at:ASC").get_json()] == ids
    assert [t["id"] for t in admin.get("/trainings?_sort=created_at:ASC&_start=1&_limit=1").get_json()] == [ids[1]]
    assert [t["id"] for t in admin.get("/trainings?status=canceled").get_json()] == [ids[0]]
    assert len(admin.get("/trainings?status_ne=canceled").get_json()) == 2
    assert len(admin.get("/trainings?uuid_in=u1&uuid_in=u2").get_json()) == 2
    assert admin.get("/trainings/count").get_json() == 3
    assert admin.get("/trainings/count?status=queued").get_json() == 2
    assert_error(admin.get("/trainings?password=x"), 400, "Unknown filter")
    assert_error(admin.get("/trainings?_sort=meta:ASC"), 400)
    assert_error(admin.get("/trainings?progress_gt=lots"), 400)


def test_no_model_yet(admin):
    training = launch(admin, {"dataset": "german-credit"})
    assert_error(admin.get("/models/active"), 404, "no active model")
    assert admin.get("/models").get_json() == []
    assert_error(admin.get(f"/trainings/{training['id']}/model"), 404, "status: queued")
    assert_error(admin.post(f"/trainings/{training['id']}/activate"), 409, "queued")


def test_malformed_or_unknown_ids_are_404(admin):
    for path in ("/trainings/nope", "/trainings/0123456789abcdef01234567", "/trainings/nope/model",
                 "/trainings/0123456789abcdef01234567/model"):
        assert_error(admin.get(path), 404)
    assert_error(admin.delete("/trainings/0123456789abcdef01234567"), 404)
    assert_error(admin.post("/trainings/0123456789abcdef01234567/activate"), 404)


def test_without_credentials_403_and_with_bad_ones_401(client, admin):
    training = launch(admin, {"dataset": "german-credit"})
    for method, path in [("get", "/trainings"), ("post", "/trainings"), ("get", "/trainings/count"),
                         ("get", f"/trainings/{training['id']}"), ("delete", f"/trainings/{training['id']}"),
                         ("get", f"/trainings/{training['id']}/model"),
                         ("post", f"/trainings/{training['id']}/activate"), ("get", "/models"),
                         ("get", "/models/active")]:
        r = getattr(client, method)(path)
        assert r.status_code == 403, (method, path)
        assert r.get_json() == {"code": 403, "message": "Forbidden: this operation requires authentication"}
        r = getattr(client, method)(path, headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401, (method, path)


@pytest.mark.parametrize("role", ["Regular User", "Read Only"])
def test_viewers_can_read_but_not_launch_cancel_or_activate(admin, make_actor, db, role):
    viewer = make_actor(role, aid=admin.aid)
    training = launch(admin, {"dataset": "german-credit"})
    assert viewer.get("/trainings").status_code == 200
    assert viewer.get(f"/trainings/{training['id']}").status_code == 200
    assert viewer.get("/trainings/count").get_json() == 1
    assert_error(viewer.post("/trainings", json={}), 403, "Manage Trainings")
    assert_error(viewer.delete(f"/trainings/{training['id']}"), 403, "Manage Trainings")
    assert_error(viewer.post(f"/trainings/{training['id']}/activate"), 403, "Manage Trainings")
    assert db.trainings.find_one()["status"] == "queued"
    assert db.trainings.count_documents({}) == 1


def test_another_account_groups_training_is_not_found(admin, make_actor, db):
    training = launch(admin, {"dataset": "german-credit"})
    stranger = make_actor("Account Admin")
    assert stranger.get("/trainings").get_json() == []
    assert stranger.get("/trainings/count").get_json() == 0
    for method, path in [("get", f"/trainings/{training['id']}"), ("delete", f"/trainings/{training['id']}"),
                         ("get", f"/trainings/{training['id']}/model"),
                         ("post", f"/trainings/{training['id']}/activate")]:
        assert_error(getattr(stranger, method)(path), 404)
    assert db.trainings.find_one()["status"] == "queued"


def test_launch_training_is_the_clis_entry_point(app, admin, db):
    from maiascore.errors import Unprocessable
    from maiascore.trainings.schemas import TrainingSchema
    from maiascore.trainings.service import get_training, launch_training

    training = launch_training(admin.aid, admin.user, {"meta": {"dataset": "german-credit", "seed": 3}})
    assert get_training(admin.aid, str(training["_id"]))["meta"]["seed"] == 3
    assert TrainingSchema().dump(training)["status"] == "queued"
    with pytest.raises(Unprocessable) as caught:
        launch_training(admin.aid, admin.user, {"meta": {"seed": "x"}})
    assert "seed" in caught.value.errors["meta"]
