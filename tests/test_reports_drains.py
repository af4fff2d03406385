"""The single-report lane: reports posted one at a time are scored together by one drain job per account
group (one read, one predict, one bulk_write for many POSTs), each exactly once, even when drains overlap."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import redis
from model_fixtures import german_rows, install_model
from rq import Queue
from rq.registry import FinishedJobRegistry

from conftest import wait_until
from test_reports_scoring import expected_results
from maiascore.queue import queue_name


def scores_queue(cfg):
    """The single lane's drains."""
    return Queue(queue_name("singles"), connection=redis.Redis.from_url(cfg.REDIS_URL))


def test_200_single_posts_make_one_job_per_group_with_one_read_and_one_write(admin, make_actor, db, cfg,
                                                                               run_worker):
    # The drain request's marks expire after SCORING_LEASE_SECONDS: longer than the 200 POSTs take on a
    # busy machine, so that no mark lapses between them and asks for a second drain.
    cfg.SCORING_LEASE_SECONDS = 600
    other = make_actor()
    mine_model, _ = install_model(admin.aid), install_model(other.aid)
    rows = german_rows(100)
    for i, row in enumerate(rows):
        for actor in (admin, other):
            assert actor.post("/reports", json={"referenceId": f"r{i}", "features": row}).status_code == 200
    queue = scores_queue(cfg)
    assert sorted(queue.fetch_job(j).args for j in queue.job_ids) == sorted([(admin.aid,), (other.aid,)])

    run_worker(queues=("scores",))
    finished = FinishedJobRegistry(queue=queue)
    assert len(finished) == 2  # for 200 POSTs
    for job_id in finished.get_job_ids():
        result = queue.fetch_job(job_id).return_value()
        assert result == {"scored": 100, "waiting_for_model": 0, "reads": 1, "handed_off": 0, "end": "none left"}
    assert db.score_reports.count_documents({"status": "processed", "scoringRuns": 1}) == 200
    want = expected_results(rows[:3], mine_model["version"])
    got = [db.score_reports.find_one({"aid": admin.aid, "referenceId": f"r{i}"}) for i in range(3)]
    assert [g["score"] for g in got] == [w.score for w in want]
    assert [g["scoreConfidence"] for g in got] == [w.confidence for w in want]


def test_concurrent_posts_and_overlapping_drains_score_each_report_exactly_once(admin, app, db, cfg, live_worker):
    from maiascore.reports import single_lane

    install_model(admin.aid)
    live_worker(queues=("scores",))
    live_worker(queues=("scores",), scheduler=False)
    rows = german_rows(200)
    stop = threading.Event()

    def expire_leases():  # as if every drain's lease expired at once: the next drain starts beside it
        conn = redis.Redis.from_url(cfg.REDIS_URL)
        while not stop.is_set():
            conn.delete(single_lane.lease_key(admin.aid))
            time.sleep(0.005)

    def post(first):
        client, statuses = app.test_client(), []
        for i in range(first, first + 50):
            path = "/reports?wait=25" if i % 10 == 0 else "/reports"
            r = client.post(path, json={"referenceId": f"c{i}", "features": rows[i]}, headers=admin.headers)
            assert r.status_code == 200, r.get_data(as_text=True)
            if "wait" in path:
                statuses.append(r.get_json()["status"])
        return statuses

    expirer = threading.Thread(target=expire_leases)
    expirer.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            waited = [status for statuses in pool.map(post, range(0, 200, 50)) for status in statuses]
        assert wait_until(lambda: db.score_reports.count_documents({"status": "processed"}) == 200, 60)
    finally:
        stop.set()
        expirer.join()
    assert waited == ["processed"] * 20  # ?wait answered with the score
    assert db.score_reports.count_documents({"scoringRuns": 1}) == 200


class StalledDrain:
    """``drain_group`` run in this process and held between its read and its write (a paused VM, a stuck
    disk), so that a test can change the world under it: the one place these tests call a job directly."""

    def __init__(self, monkeypatch, aid):
        from maiascore.reports import scoring, single_lane

        self.holding, self.resume, self.outcome = threading.Event(), threading.Event(), {}
        load_model = scoring.scoring_model

        def stalled(*args):
            model = load_model(*args)
            self.holding.set()
            self.resume.wait(60)
            return model

        monkeypatch.setattr(scoring, "scoring_model", stalled)
        self.thread = threading.Thread(target=lambda: self.outcome.update(result=single_lane.drain_group(aid)))
        self.thread.start()
        assert self.holding.wait(60), "the drain never read its reports"

    def finish(self):
        self.resume.set()
        self.thread.join(60)
        return self.outcome.get("result")


def test_a_report_edited_while_a_drain_holds_it_is_scored_with_its_new_features(admin, db, monkeypatch):
    model_doc = install_model(admin.aid)
    rows = german_rows(30)
    ids = [admin.post("/reports", json={"features": row}).get_json()["id"] for row in rows]
    drain = StalledDrain(monkeypatch, admin.aid)
    try:
        edited = {**rows[0], "age_in_years": 70, "credit_amount": 15000}
        assert admin.put(f"/reports/{ids[0]}", json={"features": edited}).get_json()["status"] == "queued"
    finally:
        result = drain.finish()
    # its first write skips the edited report (new batch token); the PUT's pending flag makes it read again
    assert result == {"scored": 30, "waiting_for_model": 0, "reads": 2, "handed_off": 0, "end": "none left"}
    assert db.score_reports.count_documents({"status": "processed", "scoringRuns": 1}) == 30
    got = admin.get(f"/reports/{ids[0]}").get_json()
    assert got["score"] == expected_results([edited], model_doc["version"])[0].score  # not the old features'


def test_a_drain_stalled_past_its_lease_scores_nothing_twice(admin, db, cfg, live_worker, monkeypatch):
    from maiascore.reports import single_lane

    install_model(admin.aid)
    for row in german_rows(30):
        admin.post("/reports", json={"features": row})
    drain = StalledDrain(monkeypatch, admin.aid)
    try:
        redis.Redis.from_url(cfg.REDIS_URL).delete(single_lane.lease_key(admin.aid))  # its lease expires
        admin.post("/reports", json={"features": german_rows(1)[0]})  # requests a drain: it takes the lease
        live_worker(queues=("scores",))
        assert wait_until(lambda: db.score_reports.count_documents({"status": "processed"}) == 31, 60)
    finally:
        result = drain.finish()
    assert result["scored"] == 0  # its 30 results came too late and were refused
    assert db.score_reports.count_documents({"scoringRuns": 1}) == 31


def test_a_report_that_cannot_be_scored_fails_alone_in_either_lane(admin, db, live_worker):
    """One report the model raises on fails after the retries; the reports read with it are scored.
    The API cannot store such a report (features are validated): it is corrupted in MongoDB here."""
    install_model(admin.aid)
    rows = german_rows(6)
    assert admin.post("/reports", json=[{"referenceId": f"b{i}", "features": r} for i, r in enumerate(rows)]
                      ).get_json()["accepted"] == 6
    for i, row in enumerate(rows):
        admin.post("/reports", json={"referenceId": f"s{i}", "features": row})
    db.score_reports.update_many({"referenceId": {"$in": ["b2", "s2"]}}, {"$set": {"features": ["not", "a", "map"]}})

    live_worker(queues=("scores",))
    settled = {"status": {"$in": ["processed", "failed"]}}
    assert wait_until(lambda: db.score_reports.count_documents(settled) == 12, 60)
    failed = {d["referenceId"]: d["error"] for d in db.score_reports.find({"status": "failed"})}
    assert set(failed) == {"b2", "s2"}
    assert all(error.startswith("Scoring failed: ValueError") for error in failed.values())
    assert db.score_reports.count_documents({"status": "processed", "scoringRuns": 1}) == 10


def test_a_drain_stores_hand_offs_between_the_writes_of_a_long_backlog(app, admin, db, cfg, monkeypatch):
    """A waiting POST hands its report off while the drain writes a backlog: it is stored before the
    backlog's last write, not after the whole backlog."""
    from maiascore.reports import scoring, service, single_lane

    install_model(admin.aid)
    for i, row in enumerate(german_rows(6)):
        admin.post("/reports", json={"referenceId": f"backlog{i}", "features": row})
    monkeypatch.setattr(single_lane, "DRAIN_WRITE_SLICE", 2)
    events = []
    real_write, real_store = scoring.write_scored, single_lane.Drain._store_handed
    caller = service.Caller(user={"_id": admin.id}, aid=admin.aid, permissions=frozenset(), is_admin=True)

    def write(db_, reports, results):
        events.append(("write", [r["_id"] for r in reports]))
        if len(events) == 1:  # a POST ?wait arrives while the first slice is written
            with app.test_request_context():
                handed = service.new_report({"referenceId": "waiting", "features": german_rows(1)[0]}, caller)
                assert single_lane.claim_request(admin.aid, handoff=handed) is None  # the drain holds the lease
        return real_write(db_, reports, results)

    def store(self, docs):
        events.append(("handed", [d["referenceId"] for d in docs]))
        return real_store(self, docs)

    monkeypatch.setattr(scoring, "write_scored", write)
    monkeypatch.setattr(single_lane.Drain, "_store_handed", store)
    with app.app_context():
        summary = single_lane.drain_group(admin.aid)
    assert [kind for kind, _ in events] == ["write", "handed", "write", "write"]
    assert summary["scored"] == 7 and summary["handed_off"] == 1
    assert db.score_reports.find_one({"referenceId": "waiting"})["status"] == "processed"
    assert db.score_reports.count_documents({"aid": admin.aid, "status": "processed", "scoringRuns": 1}) == 7
