"""The request lane: a POST that waits is scored by the web process that received it, stored once with its
result; the workers take it over past the group's share of the web tier, for a model too large, without a
model, or when the setting is off. No worker runs in these tests unless one is started."""
import redis
from bson import ObjectId
from model_fixtures import german_rows, install_model

from maiascore.queue import queue_name
from test_monitoring import monitored  # noqa: F401  the model with its baseline


def singles_jobs(cfg):
    return redis.Redis.from_url(cfg.REDIS_URL).llen("rq:queue:" + queue_name("singles"))


def test_a_waiting_post_is_scored_explained_and_stored_once_with_no_worker(app, admin, db, cfg, monitored):
    model = monitored
    r = admin.post("/reports?wait=10", json={"referenceId": "here", "features": german_rows(1)[0]})
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert answer["status"] == "processed" and answer["scoreVersion"] == model["version"]
    assert 300 <= answer["score"] <= 850 and answer["explanation"]
    stored = db.score_reports.find_one({"_id": ObjectId(answer["id"])})
    assert stored["status"] == "processed" and stored["scoringRuns"] == 1
    assert stored["score"] == answer["score"] and stored["explanation"] == answer["explanation"]
    assert db.score_reports.count_documents({}) == 1
    assert singles_jobs(cfg) == 0  # no job was queued for it
    assert admin.get(f"/reports/{answer['id']}").get_json() == answer
    # counted where dashboards and model health read
    assert admin.get("/reports/count?processed=true").get_json() == 1
    from maiascore.monitoring import counters

    with app.app_context():
        assert counters.fold_due(admin.aid) == 1  # what a worker runs a second later
    assert admin.get("/models/active/monitoring").get_json()["count"] == 1


def test_a_known_uuid_answers_the_stored_report_and_scores_nothing_again(admin, db):
    install_model(admin.aid)
    body = {"uuid": "applicant-7", "features": german_rows(1)[0]}
    first = admin.post("/reports?wait=10", json=body).get_json()
    again = admin.post("/reports?wait=10", json={**body, "features": german_rows(2)[1]}).get_json()
    assert again["id"] == first["id"] and again["score"] == first["score"]
    assert db.score_reports.count_documents({}) == 1
    assert db.score_reports.find_one({})["scoringRuns"] == 1


def test_past_its_share_of_the_web_tier_a_group_is_scored_by_the_workers_and_another_is_not(
        admin, make_actor, db, cfg, app, live_worker):
    from maiascore import costs

    other = make_actor("Account Admin")
    install_model(admin.aid)
    install_model(other.aid)
    cfg.WAIT_HANDOFF_SECONDS = 0.2
    with app.app_context():
        costs.spend_web_scoring(admin.aid, cfg.WEB_SCORING_MS_PER_MINUTE / 1000)
    spent = admin.post("/reports?wait=0.5", json={"referenceId": "spent", "features": german_rows(1)[0]}).get_json()
    assert spent["status"] == "queued"  # no worker yet: handed to the drain, then stored by the request
    assert singles_jobs(cfg) == 1
    fresh = other.post("/reports?wait=10", json={"referenceId": "fresh", "features": german_rows(1)[0]}).get_json()
    assert fresh["status"] == "processed"
    live_worker(queues=("scores",))
    scored = admin.get(f"/reports/{spent['id']}?wait=25").get_json()
    assert scored["status"] == "processed" and scored["score"] == fresh["score"]
    assert db.score_reports.count_documents({}) == 2
    assert db.score_reports.count_documents({"scoringRuns": 1}) == 2


def test_a_model_past_web_scoring_max_model_bytes_is_scored_by_the_workers(admin, db, cfg, live_worker):
    install_model(admin.aid)
    cfg.WEB_SCORING_MAX_MODEL_BYTES = 100
    live_worker(queues=("scores",))
    answer = admin.post("/reports?wait=25", json={"features": german_rows(1)[0]}).get_json()
    assert answer["status"] == "processed"
    assert db.score_reports.count_documents({"scoringRuns": 1}) == 1
    from maiascore.reports import scoring

    assert not scoring._models.entries, "the web process loaded a model past its bound"


def test_a_model_past_web_scoring_max_ms_a_few_times_in_a_row_is_scored_by_the_workers_after(admin, db, cfg):
    from maiascore.reports import request_lane

    install_model(admin.aid)
    cfg.WAIT_HANDOFF_SECONDS = 0.2
    cfg.WEB_SCORING_MAX_MS = -1  # every scoring is too slow
    for _ in range(request_lane.SLOW_STREAK):  # scored, and measured: a first slow call is a warm-up
        assert admin.post("/reports?wait=0.5", json={"features": german_rows(1)[0]}).get_json()["status"] == "processed"
    after = admin.post("/reports?wait=0.5", json={"features": german_rows(1)[0]}).get_json()
    assert after["status"] == "queued" and singles_jobs(cfg) == 1
    cfg.WEB_SCORING_MAX_MS = 25  # measured fast again only once its time with the workers is over
    assert admin.post("/reports?wait=0.5", json={"features": german_rows(1)[0]}).get_json()["status"] == "queued"


def test_with_web_scoring_off_or_no_model_the_workers_score(admin, db, cfg):
    cfg.WAIT_HANDOFF_SECONDS = 0.2
    early = admin.post("/reports?wait=0.5", json={"referenceId": "early", "features": german_rows(1)[0]}).get_json()
    assert early["status"] == "queued" and singles_jobs(cfg) == 1
    install_model(admin.aid)
    cfg.WEB_SCORING = False
    late = admin.post("/reports?wait=0.5", json={"referenceId": "late", "features": german_rows(1)[0]}).get_json()
    assert late["status"] == "queued"
    assert db.score_reports.count_documents({"status": "queued"}) == 2


def test_a_waiting_post_counts_in_the_rate_limit_and_a_refused_one_stores_nothing(admin, db, cfg):
    install_model(admin.aid)
    cfg.RATE_LIMIT_PER_MINUTE = 2
    assert admin.post("/reports?wait=10", json={"features": german_rows(1)[0]}).status_code == 200
    assert admin.post("/reports?wait=10", json={"features": german_rows(1)[0]}).status_code == 200
    refused = admin.post("/reports?wait=10", json={"features": german_rows(1)[0]})
    assert refused.status_code == 429 and set(refused.get_json()) == {"code", "message"}
    assert db.score_reports.count_documents({}) == 2


def test_a_report_that_cannot_be_scored_goes_to_the_workers_retries(admin, db, cfg, monkeypatch):
    from maiascore.modeling import ScoringModel

    install_model(admin.aid)
    cfg.WAIT_HANDOFF_SECONDS = 0.2

    def broken(self, records):
        raise ValueError("cannot score")

    monkeypatch.setattr(ScoringModel, "score", broken)
    answer = admin.post("/reports?wait=0.5", json={"features": german_rows(1)[0]}).get_json()
    assert answer["status"] == "queued" and singles_jobs(cfg) == 1
    assert db.score_reports.count_documents({"scoringRuns": 0}) == 1


def test_models_are_kept_by_size_least_recently_used_out(app, make_actor, cfg):
    from maiascore.reports import scoring
    from maiascore.trainings.registry import active_model

    groups = [make_actor("Account Admin").aid for _ in range(3)]
    with app.app_context():
        docs = [install_model(aid) for aid in groups]
        size = len(scoring.open_model_binary(docs[0]).read())
        cfg.MODEL_CACHE_BYTES = 2 * size + size // 2  # room for two
        for aid in groups:
            scoring.scoring_model(aid, active_model(aid))
        assert list(scoring._models.entries) == groups[1:]
        scoring.scoring_model(groups[1], active_model(groups[1]))  # used: the last to go
        scoring.scoring_model(groups[0], active_model(groups[0]))
        assert list(scoring._models.entries) == [groups[1], groups[0]]
