"""A bulk at the documented limit (BULK_MAX_ITEMS = 10,000 reports of 100 features, ~11 MB): every
id answered, everything stored queued for scoring at once, and a retry stores nothing twice."""
import json
import time

import redis
from rq import Queue

from maiascore.queue import queue_name

LIMIT = 10000
FEATURES = 100


def bulk_body(prefix="u"):
    return [{"uuid": f"{prefix}{i}", "referenceId": f"r{i}",
             "features": {f"f{j}": (i * 31 + j) % 97 for j in range(FEATURES)}} for i in range(LIMIT)]


def test_a_bulk_at_the_limit_answers_every_id_queues_everything_and_a_retry_stores_nothing_twice(
        admin, db, cfg):
    body = json.dumps(bulk_body())
    assert 10 * 2**20 < len(body) < 16 * 2**20
    started = time.perf_counter()
    r = admin.post("/reports", data=body, content_type="application/json")
    elapsed = time.perf_counter() - started
    print(f"\nbulk of {LIMIT} x {FEATURES} features ({len(body) / 2**20:.1f} MB): {elapsed:.2f} s")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    result = r.get_json()
    assert result["accepted"] == LIMIT and result["rejected"] == 0
    ids = [entry["id"] for entry in result["reports"]]
    assert len(set(ids)) == LIMIT

    stored = {str(d["_id"]): d for d in db.score_reports.find({"aid": admin.aid}, {"batch": 1, "status": 1,
                                                                                    "uuid": 1})}
    assert set(stored) == set(ids)
    assert {d["status"] for d in stored.values()} == {"queued"}
    assert stored[ids[1234]]["uuid"] == "u1234"
    # Every stored report is in a batch that has its document and its job: nothing waits for a sweep.
    batch_docs = {b["_id"]: b for b in db.score_batches.find({"aid": admin.aid})}
    assert {d["batch"] for d in stored.values()} == set(batch_docs)
    assert sum(b["size"] for b in batch_docs.values()) == LIMIT
    queue = Queue(queue_name("scores"), connection=redis.Redis.from_url(cfg.REDIS_URL))
    assert sorted(queue.job_ids) == sorted(f"score-{b}" for b in batch_docs)

    # The client never heard back (say) and retries the very same body: the same ids, nothing stored twice.
    started = time.perf_counter()
    again = admin.post("/reports", data=body, content_type="application/json")
    print(f"the same bulk again: {time.perf_counter() - started:.2f} s")
    assert again.status_code == 200
    assert [entry["id"] for entry in again.get_json()["reports"]] == ids
    assert db.score_reports.count_documents({"aid": admin.aid}) == LIMIT
    assert {b["_id"] for b in db.score_batches.find({"aid": admin.aid})} == set(batch_docs)
    assert sorted(queue.job_ids) == sorted(f"score-{b}" for b in batch_docs)
