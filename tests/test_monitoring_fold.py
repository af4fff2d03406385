"""Counters of reports scored in the request, applied by the group's fold: once, together, whatever is
killed where."""
from datetime import timedelta

import pytest
from model_fixtures import german_rows

from conftest import wait_until
from test_monitoring import monitored  # noqa: F401  the model with its baseline


def post_waited(actor, n):
    for row in german_rows(n):
        assert actor.post("/reports?wait=10", json={"features": row}).get_json()["status"] == "processed"


def counts(db):
    """Reports counted, and the tokens the counter documents still hold."""
    docs = list(db.monitoring_counts.find({}))
    return sum(d.get("n", 0) for d in docs), sum(len(d.get("ap", [])) for d in docs)


def test_a_fold_applies_every_due_pass_in_one_update_and_forgets_their_tokens(app, admin, db, monitored):
    from maiascore.monitoring import counters

    post_waited(admin, 30)
    assert counts(db)[0] == 0 and db.monitoring_pending.count_documents({"due": admin.aid}) == 30
    with app.app_context():
        assert counters.fold_due(admin.aid) == 30
        assert counters.fold_due(admin.aid) == 0  # run twice: nothing more
    assert counts(db) == (30, 0)
    assert db.monitoring_pending.count_documents({}) == 0
    assert admin.get("/models/active/monitoring").get_json()["count"] == 30


def test_a_fold_killed_after_its_update_and_the_sweep_count_each_report_once(app, admin, db, cfg, monitored,
                                                                            monkeypatch):
    from pymongo.collection import Collection

    from maiascore.monitoring import counters

    post_waited(admin, 10)
    real = Collection.delete_many

    def killed(self, *args, **kwargs):
        raise RuntimeError("killed before its pending documents went")

    with app.app_context():
        monkeypatch.setattr(Collection, "delete_many", killed)
        with pytest.raises(RuntimeError):
            counters.fold_due(admin.aid)
        monkeypatch.setattr(Collection, "delete_many", real)
        assert counts(db)[0] == 10 and db.monitoring_pending.count_documents({"due": admin.aid}) == 10
        post_waited(admin, 5)  # five more, due
        # later, the sweep folds all 15: the ten applied already are known by their tokens, pass by pass
        db.monitoring_pending.update_many({}, {"$set": {"created_at": counters.utcnow() - timedelta(hours=1)}})
        counters.recover_pending()
    assert counts(db) == (15, 0)
    assert db.monitoring_pending.count_documents({}) == 0


def test_the_workers_fold_what_the_request_lane_scored(admin, db, monitored, live_worker):
    live_worker(queues=("alerts", "scores"))  # a scoring worker's queues
    post_waited(admin, 3)
    assert wait_until(lambda: counts(db)[0] == 3, 30)
    assert wait_until(lambda: db.monitoring_pending.count_documents({}) == 0, 30)
