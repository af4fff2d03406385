"""POST/GET/PUT/DELETE /reports against real MongoDB and Redis: encodings, validation, bulk,
idempotency, permissions and account-group isolation. Scoring itself: test_reports_scoring.py."""
import json

import pytest
from rq import Queue
from maiascore.queue import queue_name

SEED_BODY = {"uuid": "string", "referenceId": "string", "type": "reference", "processed": True,
             "users_permissions_user": "string", "score": 0, "scoreProbability": 0, "scoreConfidence": 0,
             "scoreVersion": "string"}
SEED_XML = """<?xml version="1.0" encoding="utf-8"?>
<item>
  <uuid>string</uuid>
  <referenceId>string</referenceId>
  <type>reference</type>
  <processed>true</processed>
  <users_permissions_user>string</users_permissions_user>
  <score>0</score>
  <scoreProbability>0</scoreProbability>
  <scoreConfidence>0</scoreConfidence>
  <scoreVersion>string</scoreVersion>
</item>"""
SECRETS = ("password", "resetPasswordToken", "confirmationToken", "$argon2", "hash")
REPORT_KEYS = {"id", "uuid", "referenceId", "type", "processed", "status", "users_permissions_user", "score",
               "scoreProbability", "scoreConfidence", "scoreVersion", "explanation", "warnings", "features",
               "outcome", "error", "processed_at", "published_at", "created_at", "updated_at", "created_by",
               "updated_by"}


def assert_no_secret(response):
    text = response.get_data(as_text=True)
    for word in SECRETS:
        assert word not in text, f"{word!r} leaked in {text[:300]}"


def assert_documented_shape(report):
    """The views build their JSON directly; the documented schema must describe it exactly."""
    from maiascore.reports.schemas import ScoreReportSchema

    schema = ScoreReportSchema()
    assert set(report) == set(schema.fields)
    schema.load(report)  # types, ISO datetimes, the nested user; raises on any mismatch


def scores_queue(cfg, name="singles"):
    """The single lane's drains by default; ``"scores"``: the batch lane's jobs."""
    import redis

    return Queue(queue_name(name), connection=redis.Redis.from_url(cfg.REDIS_URL))


def test_seed_json_body_is_stored_queued_then_enqueued(admin, db, cfg):
    r = admin.post("/reports", json={**SEED_BODY, "features": {"age_in_years": 35}})
    assert r.status_code == 200, r.get_json()
    report = r.get_json()
    assert set(report) == REPORT_KEYS
    assert_documented_shape(report)
    assert admin.get(f"/reports/{report['id']}").get_json() == report  # what was stored, timestamps included
    assert report["status"] == "queued" and report["processed"] is False
    assert report["score"] is None and report["scoreVersion"] is None  # computed fields sent are ignored
    assert report["uuid"] == "string" and report["referenceId"] == "string" and report["type"] == "reference"
    assert report["features"] == {"age_in_years": 35}
    assert report["users_permissions_user"]["id"] == admin.id  # the placeholder "string" means the caller
    assert report["users_permissions_user"]["email"] == admin.email
    assert report["created_by"] == report["updated_by"] == admin.id and report["published_at"]
    assert_no_secret(r)

    stored = db.score_reports.find_one()
    assert stored["aid"] == admin.aid and stored["status"] == "queued" and stored["processed"] is False
    assert stored["lane"] == "single" and db.score_batches.count_documents({}) == 0  # no batch per report
    [job_id] = scores_queue(cfg).job_ids
    assert job_id.startswith(f"score-drain-{admin.aid}-")  # the group's drain
    assert scores_queue(cfg).fetch_job(job_id).args == (admin.aid,)


def test_single_posts_share_the_pending_drain_of_their_group(admin, make_actor, db, cfg):
    for i in range(5):
        assert admin.post("/reports", json={"referenceId": f"s{i}"}).status_code == 200
    other = make_actor()
    other.post("/reports", json={"referenceId": "theirs"})
    jobs = [scores_queue(cfg).fetch_job(job_id) for job_id in scores_queue(cfg).job_ids]
    assert sorted(job.args for job in jobs) == sorted([(admin.aid,), (other.aid,)])  # one per group, not per POST
    assert db.score_reports.count_documents({"lane": "single", "status": "queued"}) == 6
    assert len({d["batch"] for d in db.score_reports.find()}) == 6  # each report's own token, for ?wait


@pytest.mark.parametrize("kwargs", [
    dict(data=SEED_XML, content_type="application/xml"),
    dict(data=SEED_XML, content_type="text/xml"),
    dict(data=json.dumps(SEED_BODY), content_type="application/x-www-form-urlencoded"),
    dict(data={k: str(v) for k, v in SEED_BODY.items()}, content_type="application/x-www-form-urlencoded"),
    dict(data={k: str(v) for k, v in SEED_BODY.items()}, content_type="multipart/form-data"),
], ids=["xml", "text-xml", "json-text-under-form", "form-fields", "multipart"])
def test_every_seed_encoding_creates_the_same_report(admin, kwargs):
    r = admin.post("/reports", **kwargs)
    assert r.status_code == 200, r.get_data(as_text=True)
    report = r.get_json()
    assert (report["uuid"], report["referenceId"], report["type"], report["status"]) == (
        "string", "string", "reference", "queued")
    assert report["users_permissions_user"]["id"] == admin.id


def test_features_arrive_from_xml_elements_and_form_json_text(admin, db):
    xml = ("<item><referenceId>x1</referenceId><features><age_in_years>41</age_in_years>"
           "<purpose>car (new)</purpose></features></item>")
    r = admin.post("/reports", data=xml, content_type="application/xml")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["features"] == {"age_in_years": "41", "purpose": "car (new)"}
    r = admin.post("/reports", data={"referenceId": "x2", "features": json.dumps({"age_in_years": 41})},
                   content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["features"] == {"age_in_years": 41}


def test_xml_is_answered_when_asked(admin):
    r = admin.post("/reports", json={"referenceId": "r1"}, headers={"Accept": "application/xml"})
    assert r.status_code == 200
    assert r.mimetype == "application/xml"
    text = r.get_data(as_text=True)
    assert "<item>" in text and "<referenceId>r1</referenceId>" in text and "<status>queued</status>" in text
    assert_no_secret(r)


@pytest.mark.parametrize("body,status,field", [
    ({"type": "company"}, 400, None),
    ({"features": ["age", 3]}, 422, "features"),
    ({"features": {"nested": {"a": 1}}}, 422, "features"),
    ({"features": {"age_in_years": 10**30}}, 422, "features"),  # beyond what MongoDB stores: was a 500
    ({"features": "{not json"}, 422, "features"),
    ({"outcome": "maybe"}, 422, "outcome"),
    ({"referenceId": {"a": 1}}, 422, "referenceId"),
    ({"colour": "red"}, 422, "colour"),
    ({"users_permissions_user": True}, 422, "users_permissions_user"),
    ({"users_permissions_user": 10**30}, 422, "users_permissions_user"),
    ("just a text", 422, None),
])
def test_bad_reports_get_a_clear_error_and_nothing_is_stored(admin, db, body, status, field):
    r = admin.post("/reports", json=body)
    assert r.status_code == status, r.get_json()
    payload = r.get_json()
    assert payload["code"] == status and payload["message"]
    if field:
        assert field in payload["errors"]
    assert db.score_reports.count_documents({}) == 0


def test_malformed_bodies_answer_400(admin, db):
    for data, content_type in (("{oops", "application/json"), ("<item><a>", "application/xml")):
        r = admin.post("/reports", data=data, content_type=content_type)
        assert r.status_code == 400 and r.get_json()["code"] == 400
    assert db.score_reports.count_documents({}) == 0


def test_same_uuid_returns_the_stored_report_and_queues_nothing(admin, make_actor, db, cfg):
    first = admin.post("/reports", json={"uuid": "app-42", "referenceId": "a"}).get_json()
    again = admin.post("/reports", json={"uuid": "app-42", "referenceId": "changed"})
    assert again.status_code == 200
    assert again.get_json()["id"] == first["id"] and again.get_json()["referenceId"] == "a"
    assert db.score_reports.count_documents({"uuid": "app-42"}) == 1
    assert len(scores_queue(cfg).job_ids) == 1

    other_group = make_actor()
    theirs = other_group.post("/reports", json={"uuid": "app-42"}).get_json()
    assert theirs["id"] != first["id"]  # uuids are unique per account group only


def test_owner_defaults_to_the_caller_and_someone_else_needs_manage_users(admin, make_actor, db):
    member = make_actor("Regular User", aid=admin.aid)
    outsider = make_actor("Account Admin")

    r = member.post("/reports", json={"users_permissions_user": admin.id})
    assert r.status_code == 403 and "Manage Users" in r.get_json()["message"]
    for self_reference in (member.id, str(member.id), member.user["username"], member.email.upper()):
        r = member.post("/reports", json={"users_permissions_user": self_reference})
        assert r.status_code == 200 and r.get_json()["users_permissions_user"]["id"] == member.id

    r = admin.post("/reports", json={"users_permissions_user": member.id})
    assert r.status_code == 200
    owner = r.get_json()["users_permissions_user"]
    assert owner["id"] == member.id and owner["role"]["name"] == "Regular User"
    assert r.get_json()["created_by"] == admin.id
    r = admin.post("/reports", json={"users_permissions_user": member.email})
    assert r.get_json()["users_permissions_user"]["id"] == member.id

    for nobody in (outsider.id, 999999, "no-such-user"):
        r = admin.post("/reports", json={"users_permissions_user": nobody})
        assert r.status_code == 422 and "users_permissions_user" in r.get_json()["errors"]
    assert db.score_reports.count_documents({"users_permissions_user": outsider.id}) == 0


def test_bulk_keeps_valid_items_reports_errors_in_order_and_batches_by_size(admin, db, cfg):
    cfg.SCORING_BATCH_SIZE = 400
    items = [{"referenceId": f"r{i}", "features": {"age_in_years": 20 + i % 50}} for i in range(1000)]
    items[3] = {"type": "company"}
    items[10] = {"features": [1, 2]}
    items[20] = "not an object"
    r = admin.post("/reports", json=items)
    assert r.status_code == 200, r.get_json()
    result = r.get_json()
    assert result["accepted"] == 997 and result["rejected"] == 3
    assert [entry["index"] for entry in result["reports"]] == list(range(1000))
    assert result["reports"][3]["error"]["code"] == 400
    assert result["reports"][10]["error"]["code"] == 422 and "features" in result["reports"][10]["error"]["errors"]
    assert result["reports"][20]["error"]["code"] == 422
    ids = [entry["id"] for entry in result["reports"] if "id" in entry]
    assert len(set(ids)) == 997

    stored = {str(d["_id"]): d for d in db.score_reports.find({}, {"referenceId": 1, "batch": 1, "status": 1})}
    assert stored[result["reports"][999]["id"]]["referenceId"] == "r999"
    assert {d["status"] for d in stored.values()} == {"queued"}
    assert db.score_reports.count_documents({"lane": "batch"}) == 997
    batch_sizes = sorted(b["size"] for b in db.score_batches.find())
    assert batch_sizes == [197, 400, 400]  # ceil(997 / 400) batches, not one per report
    assert sorted(scores_queue(cfg, "scores").job_ids) == sorted(f"score-{b['_id']}" for b in db.score_batches.find())


def test_bulk_uuids_known_or_repeated_point_to_one_report(admin, db):
    known = admin.post("/reports", json={"uuid": "k1"}).get_json()["id"]
    body = [{"uuid": "k1"}, {"uuid": "n1"}, {"uuid": "n1"}, {"referenceId": "plain"}]
    result = admin.post("/reports", json=body).get_json()
    ids = [entry["id"] for entry in result["reports"]]
    assert ids[0] == known and ids[1] == ids[2] != known and result["accepted"] == 4
    assert db.score_reports.count_documents({}) == 3


def test_bulk_as_xml_list_and_limits(admin, cfg):
    xml = "<items><item><referenceId>a</referenceId></item><item><referenceId>b</referenceId></item></items>"
    result = admin.post("/reports", data=xml, content_type="application/xml").get_json()
    assert result["accepted"] == 2
    assert admin.post("/reports", json=[]).status_code == 400
    cfg.BULK_MAX_ITEMS = 3
    r = admin.post("/reports", json=[{}] * 4)
    assert r.status_code == 413 and "At most 3" in r.get_json()["message"]


def test_list_count_filters_sort_and_pagination(admin, make_actor, db):
    ids = [admin.post("/reports", json={"referenceId": f"r{i}", "uuid": f"u{i}"}).get_json()["id"] for i in range(5)]
    make_actor().post("/reports", json={"referenceId": "elsewhere"})
    db.score_reports.update_many({"referenceId": {"$in": ["r1", "r3"]}},
                                 {"$set": {"processed": True, "status": "processed", "score": 700,
                                           "scoreVersion": "2"}})
    db.score_reports.update_one({"referenceId": "r4"}, {"$set": {"processed": True, "status": "processed",
                                                                  "score": 500, "scoreVersion": "1"}})

    listed = admin.get("/reports").get_json()
    assert [r["id"] for r in listed] == ids[::-1]  # newest first by default
    assert admin.get("/reports/count").get_json() == 5
    assert {r["referenceId"] for r in admin.get("/reports?processed=false").get_json()} == {"r0", "r2"}
    assert {r["referenceId"] for r in admin.get("/reports?score_gte=600").get_json()} == {"r1", "r3"}
    assert admin.get("/reports/count?scoreVersion_in=1&scoreVersion_in=2").get_json() == 3
    assert [r["referenceId"] for r in admin.get("/reports?_sort=referenceId:ASC&_start=1&_limit=2").get_json()] == [
        "r1", "r2"]
    assert admin.get("/reports?referenceId_contains=R3").get_json()[0]["uuid"] == "u3"
    assert admin.get("/reports?colour=red").status_code == 400
    assert admin.get("/reports?score_gte=abc").status_code == 400
    page = admin.get("/reports")
    assert_no_secret(page)


def test_get_one_and_isolation_between_groups(admin, make_actor):
    report = admin.post("/reports", json={"referenceId": "mine"}).get_json()
    assert admin.get(f"/reports/{report['id']}").get_json()["referenceId"] == "mine"
    outsider = make_actor()
    for call in (outsider.get, outsider.delete):
        r = call(f"/reports/{report['id']}")
        assert r.status_code == 404 and r.get_json() == {"code": 404, "message": "Report not found"}
    assert outsider.put(f"/reports/{report['id']}", json={"referenceId": "x"}).status_code == 404
    assert outsider.post(f"/reports/{report['id']}/rescore").status_code == 404
    assert outsider.get("/reports").get_json() == []
    assert admin.get("/reports/not-an-id").status_code == 404
    assert admin.get("/reports/0123456789abcdef01234567").status_code == 404


def test_credentials_and_roles(client, admin, make_actor):
    r = client.post("/reports", json=SEED_BODY)
    assert r.status_code == 403 and r.get_json() == {"code": 403,
                                                     "message": "Forbidden: this operation requires authentication"}
    assert client.get("/reports").status_code == 403
    r = client.get("/reports", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.get_json()["code"] == 401
    reader = make_actor("Read Only", aid=admin.aid)
    assert reader.get("/reports").status_code == 200
    r = reader.post("/reports", json={})
    assert r.status_code == 403 and "Create Scores" in r.get_json()["message"]
    token = admin.api_token()
    r = client.post("/reports", json={"referenceId": "t"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert client.get("/reports/count", headers=admin.basic(token)).get_json() == 1


def test_put_edits_fields_labels_outcome_and_requeues_on_new_features(admin, db):
    report = admin.post("/reports", json={"referenceId": "a", "features": {"age_in_years": 30}}).get_json()
    old_batch = db.score_reports.find_one()["batch"]
    db.score_reports.update_one({}, {"$set": {"status": "processed", "processed": True, "score": 610}})

    r = admin.put(f"/reports/{report['id']}", json={"referenceId": "b", "outcome": 1, "score": 999})
    assert r.status_code == 200, r.get_json()
    edited = r.get_json()
    assert edited["referenceId"] == "b" and edited["outcome"] == "good" and edited["score"] == 610
    assert edited["status"] == "processed" and db.score_reports.find_one()["batch"] == old_batch
    for sent, label in (("bad", "bad"), (0, "bad"), ("good", "good"), ("1", "good"), (None, None)):
        assert admin.put(f"/reports/{report['id']}", json={"outcome": sent}).get_json()["outcome"] == label
    assert admin.put(f"/reports/{report['id']}", json={"outcome": "meh"}).status_code == 422
    assert admin.put(f"/reports/{report['id']}", json={"type": "x"}).status_code == 400

    # A client may PUT back what it read: computed fields are ignored.
    echoed = admin.put(f"/reports/{report['id']}", json=edited)
    assert echoed.status_code == 200, echoed.get_json()

    r = admin.put(f"/reports/{report['id']}", json={"features": {"age_in_years": 31}})
    assert r.get_json()["status"] == "queued" and r.get_json()["processed"] is False
    stored = db.score_reports.find_one()
    assert stored["batch"] != old_batch and stored["lane"] == "single" and stored["status"] == "queued"


def test_only_owner_or_account_admin_changes_a_report(admin, make_actor, db):
    alice = make_actor("Regular User", aid=admin.aid)
    bob = make_actor("Regular User", aid=admin.aid)
    reader = make_actor("Read Only", aid=admin.aid)
    report = alice.post("/reports", json={"referenceId": "alice's"}).get_json()
    path = f"/reports/{report['id']}"

    assert bob.get(path).status_code == 200  # View Scores sees the group's reports
    for call in (lambda: bob.put(path, json={"referenceId": "bob"}), lambda: bob.delete(path),
                 lambda: bob.post(path + "/rescore")):
        r = call()
        assert r.status_code == 403 and "owner" in r.get_json()["message"]
    assert reader.put(path, json={"referenceId": "r"}).status_code == 403
    assert alice.put(path, json={"users_permissions_user": bob.id}).status_code == 403
    assert alice.put(path, json={"referenceId": "still alice's"}).status_code == 200
    moved = admin.put(path, json={"users_permissions_user": bob.id})
    assert moved.status_code == 200 and moved.get_json()["users_permissions_user"]["id"] == bob.id
    assert alice.delete(path).status_code == 403  # no longer hers
    assert db.score_reports.count_documents({}) == 1


def test_delete_returns_the_deleted_report(admin, db):
    report = admin.post("/reports", json={"referenceId": "gone"}).get_json()
    r = admin.delete(f"/reports/{report['id']}")
    assert r.status_code == 200 and r.get_json()["referenceId"] == "gone"
    assert_no_secret(r)
    assert admin.get(f"/reports/{report['id']}").status_code == 404
    assert admin.delete(f"/reports/{report['id']}").status_code == 404


def test_rescore_requeues_the_report(admin, db):
    report = admin.post("/reports", json={"referenceId": "again"}).get_json()
    first_batch = db.score_reports.find_one()["batch"]
    db.score_reports.update_one({}, {"$set": {"status": "failed", "error": "boom"}})
    r = admin.post(f"/reports/{report['id']}/rescore")
    assert r.status_code == 200 and r.get_json()["status"] == "queued" and r.get_json()["error"] is None
    assert db.score_reports.find_one()["batch"] != first_batch


def test_wait_parameter_is_validated(admin, cfg):
    r = admin.post("/reports?wait=31", json={})
    assert r.status_code == 400 and "at most 30" in r.get_json()["message"]
    assert admin.post("/reports?wait=soon", json={}).status_code == 422
    assert admin.post("/reports?wait=-1", json={}).status_code == 422
    # Prefer is a hint (RFC 7240): an excessive value is clamped, not refused; no worker runs, so
    # a zero wait answers at once with the queued report.
    r = admin.post("/reports", json={}, headers={"Prefer": "wait=0"})
    assert r.status_code == 200 and r.get_json()["status"] == "queued"


def test_openapi_documents_the_routes(client):
    spec = client.get("/openapi.json").get_json()
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/reports"])
    assert {"get", "put", "delete"} <= set(paths["/reports/{report_id}"])
    assert "/reports/count" in paths and "post" in paths["/reports/{report_id}/rescore"]
    assert "application/xml" in paths["/reports"]["post"]["requestBody"]["content"]
    assert "password" not in json.dumps(spec["components"]["schemas"]["ScoreReport"])
