"""Two deployments on one Redis database: each worker runs its own deployment's jobs only."""
import os
import subprocess
import sys
from pathlib import Path

import redis
from model_fixtures import install_model

from config import TestConfig as StackConfig
from maiascore.accounts.permissions import ROLE_IDS
from maiascore.accounts.service import create_account_group, create_user
from maiascore.app import create_app
from maiascore.auth.service import issue_jwt
from maiascore.connections import mongo_client
from maiascore.queue import worker_command

ROOT = Path(__file__).resolve().parent.parent


def _burst_worker(cfg, prefix, db_name):
    env = {**os.environ, "MONGO_URI": cfg.MONGO_URI, "REDIS_URL": cfg.REDIS_URL, "MONGO_DB_NAME": db_name,
           "REDIS_PREFIX": prefix, "MAIASCORE_TESTING": "1", "PYTHONPATH": str(ROOT)}
    rq = str(Path(sys.executable).with_name("rq"))
    result = subprocess.run(worker_command("scoring", rq=rq, burst=True, queues=("scores",)), env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]


def _post(client, headers, reference):
    r = client.post("/reports", json={"referenceId": reference, "features": {"duration": 12}}, headers=headers)
    assert r.status_code in (200, 201), r.get_json()
    return r.get_json()["id"]


def _status(client, headers, report_id):
    return client.get(f"/reports/{report_id}", headers=headers).get_json()["status"]


def test_two_stacks_share_a_redis_database_without_running_each_others_jobs(cfg, make_actor):
    admin = make_actor()
    install_model(admin.aid)
    other_db = cfg.MONGO_DB_NAME + "_other"
    other_app = create_app(StackConfig(MONGO_URI=cfg.MONGO_URI, REDIS_URL=cfg.REDIS_URL, MONGO_DB_NAME=other_db,
                                      REDIS_PREFIX="other", JWT_SECRET_KEY=cfg.JWT_SECRET_KEY))
    with other_app.app_context():  # the other deployment's own group, admin and model, in its own database
        aid = create_account_group("Other")["_id"]
        user = create_user("otheradmin", "other@example.com", "password-other-1",
                           [{"aid": aid, "roleId": ROLE_IDS["Account Admin"]}])
        install_model(aid)
        other_headers = {"Authorization": f"Bearer {issue_jwt(user)}"}
    other = other_app.test_client()
    try:
        ours = _post(admin.client, admin.headers, "ours")
        theirs = _post(other, other_headers, "theirs")
        conn = redis.Redis.from_url(cfg.REDIS_URL)
        assert conn.keys("other:*") and conn.keys("maiascore:*")
        assert not [k for k in conn.keys("*") if k.startswith((b"ratelimit", b"drain", b"scored"))]

        _burst_worker(cfg, "other", other_db)
        assert _status(other, other_headers, theirs) == "processed"
        assert _status(admin.client, admin.headers, ours) == "queued"

        _burst_worker(cfg, "maiascore", cfg.MONGO_DB_NAME)
        assert _status(admin.client, admin.headers, ours) == "processed"
    finally:
        mongo_client(cfg.MONGO_URI).drop_database(other_db)
