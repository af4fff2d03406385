"""One tenant cannot take the service from the others: waits are capped per account group and hold
no web thread another group needs; cached logins are revoked at once. Run under a real threaded
HTTP server, as gunicorn's threaded workers serve the app."""
import json
import threading
import urllib.error
import urllib.request


WAIT = 6


def call(url, actor=None, body=None, timeout=30):
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     method="POST" if body is not None else "GET")
    request.add_header("Content-Type", "application/json")
    for key, value in (actor.headers if actor else {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def test_a_group_at_its_wait_cap_is_refused_while_other_groups_and_healthz_still_answer(
        cfg, server, make_actor, db):
    cfg.MAX_WAITS_PER_GROUP = 3
    greedy, other = make_actor("Regular User"), make_actor("Regular User")
    answers = []
    # No worker runs: every wait lasts its full WAIT seconds.
    waiters = [threading.Thread(target=lambda n=n: answers.append(
        call(f"{server}/reports?wait={WAIT}", greedy, {"referenceId": f"w{n}"}))) for n in range(3)]
    for thread in waiters:
        thread.start()
    try:
        deadline_probe = 0
        while db.score_reports.count_documents({"aid": greedy.aid}) < 3 and deadline_probe < 200:
            threading.Event().wait(0.05)
            deadline_probe += 1
        # The fourth wait of the same group: 429 naming the bound, and nothing stored.
        status, headers, body = call(f"{server}/reports?wait={WAIT}", greedy, {"referenceId": "refused"})
        assert status == 429 and "MAX_WAITS_PER_GROUP" in body["message"] and headers["Retry-After"]
        assert db.score_reports.count_documents({"referenceId": "refused"}) == 0
        status, headers, body = call(f"{server}/reports/{'0' * 24}?wait={WAIT}", greedy)
        assert status == 404  # a report that does not exist is not found, cap or not
        # Another group waits, and everyone's health check answers, while the three are still waiting.
        status, _, body = call(f"{server}/reports?wait=1", other, {"referenceId": "mine"})
        assert status == 200 and body["referenceId"] == "mine"
        status, _, _ = call(f"{server}/healthz")
        assert status == 200
        # Prefer: wait counts too, and without waiting the greedy group can still post.
        assert call(f"{server}/reports", greedy, {"referenceId": "no-wait"})[0] == 200
        assert all(thread.is_alive() for thread in waiters)
    finally:
        for thread in waiters:
            thread.join(WAIT + 20)
    assert sorted(a[0] for a in answers) == [200, 200, 200]
    assert {a[2]["status"] for a in answers} == {"queued"}
    # The slots are given back: the group may wait again.
    assert call(f"{server}/reports?wait=1", greedy, {"referenceId": "again"})[0] == 200


def test_prefer_wait_takes_a_slot_too(cfg, client, make_actor, db):
    from maiascore.connections import get_redis, redis_key

    cfg.MAX_WAITS_PER_GROUP = 1
    actor = make_actor("Regular User")
    get_redis().zadd(redis_key("waits", actor.aid), {"held-elsewhere": 4102444800})  # a wait of another process
    r = actor.post("/reports", json={"referenceId": "p"}, headers={"Prefer": "wait=5"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert actor.post("/reports", json={"referenceId": "p"}).status_code == 200  # no wait, no slot


def test_a_revoked_api_token_fails_at_once_though_the_process_cached_it(client, admin):
    token = admin.api_token()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/users/me", headers=bearer).status_code == 200  # cached now
    token_id = admin.get("/users/me/tokens").get_json()[0]["id"]
    assert admin.delete(f"/users/me/tokens/{token_id}").status_code == 200
    assert client.get("/users/me", headers=bearer).status_code == 401


def test_a_demotion_applies_to_the_next_request_of_a_cached_login(admin, make_actor):
    member = make_actor("Regular User", aid=admin.aid)
    assert member.post("/reports", json={"referenceId": "before"}).status_code == 200  # cached now
    assert admin.post(f"/v6/users/{member.id}/update", json={"role": "Read Only"}).status_code == 200
    r = member.post("/reports", json={"referenceId": "after"})
    assert r.status_code == 403


def test_without_redis_cached_logins_are_not_trusted(cfg, admin, make_actor, redis_outage, db):
    member = make_actor("Regular User", aid=admin.aid)
    assert member.get("/users/me").status_code == 200  # cached now
    redis_outage.stop()
    try:
        db.users.update_one({"_id": member.id}, {"$set": {"blocked": True}})  # a change Redis never heard of
        assert member.get("/users/me").status_code == 401
    finally:
        redis_outage.restart()
