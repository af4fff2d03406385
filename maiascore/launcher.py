"""``make run``: the whole stack in the foreground, stopped together on Ctrl-C.

Starts what is missing (an embedded MongoDB-protocol server when ``MONGO_URI`` is
unset, ``redis-server`` when nothing answers at ``REDIS_URL``), then gunicorn and one
RQ worker with the scheduler, after making sure the Default group and its admin exist.
"""
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from maiascore import devstack
from maiascore.queue import ROLES, worker_command

DEFAULT_ADMIN_EMAIL = "admin@example.com"
DEFAULT_ADMIN_PASSWORD = "maiascore-admin"
DEMO_TRAINING_UUID = "demo-german-credit"


def _secret_key(var_dir):
    path = var_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def run_stack(var_dir="var", port=None, web_workers=None):
    var_dir = Path(var_dir).resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    children = []
    env = os.environ
    port = int(port or env.get("PORT", 5000))
    try:
        if not env.get("MONGO_URI"):
            # MongoDB's own port when free, so `maiascore` commands in another shell find it by default
            port_27017_free = not devstack.port_answers("127.0.0.1", 27017)
            child, uri = devstack.start_secantus(var_dir / "mongo", var_dir / "mongo.log",
                                                 port=27017 if port_27017_free else None)
            children.append(("mongodb (SecantusDB)", child))
            env["MONGO_URI"] = uri
            print(f"* embedded MongoDB-protocol server at {uri}, data in {var_dir / 'mongo'}")
        redis_url = env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
        if not devstack.redis_answers(redis_url):
            child, _ = devstack.start_redis(urlparse(redis_url).port or 6379, var_dir / "redis.log")
            children.append(("redis", child))
            print(f"* started redis-server for {redis_url}")
        if not (env.get("SECRET_KEY") or env.get("JWT_SECRET_KEY")):
            env["SECRET_KEY"] = _secret_key(var_dir)

        from config import reset_process_settings
        from maiascore.accounts.service import ensure_admin
        from maiascore.connections import get_db
        from maiascore.indexes import ensure_indexes

        reset_process_settings()
        ensure_indexes(get_db())
        email = env.get("MAIASCORE_ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL)
        password = env.get("MAIASCORE_ADMIN_PASSWORD", DEFAULT_ADMIN_PASSWORD)
        user, group, created = ensure_admin(email, password)
        state = "created" if created else "exists"
        print(f"* account group {group['name']!r} (aid {group['_id']}), admin {email} ({state})"
              + (f", password {password!r}" if created else ""))

        if env.get("MAIASCORE_DEMO_MODEL", "1") != "0":
            from maiascore.trainings.service import launch_training

            training = launch_training(group["_id"], user, {"uuid": DEMO_TRAINING_UUID,
                                                            "meta": {"dataset": "german-credit"}})
            print(f"* demo model: training {training['_id']} on the bundled german-credit data "
                  f"({training['status']}; set MAIASCORE_DEMO_MODEL=0 to skip)")

        bin_dir = Path(sys.executable).parent
        workers = str(web_workers or env.get("WEB_CONCURRENCY", 2))
        web = devstack.Child([str(bin_dir / "gunicorn"), "--bind", f"0.0.0.0:{port}", "--workers", workers,
                              "--access-logfile", "-", "wsgi:app"], inherit_output=True)
        children.append(("api (gunicorn)", web))
        for role in ROLES:
            worker = devstack.Child(worker_command(role, rq=str(bin_dir / "rq")), inherit_output=True)
            children.append((f"{role} worker (rq)", worker))
        devstack.wait_for_port("127.0.0.1", port, 60, web.proc)
        print(f"* API on http://127.0.0.1:{port}  (docs: http://127.0.0.1:{port}/docs)")
        print("* Ctrl-C stops everything")
        _wait_for_stop(children)
    finally:
        for name, child in reversed(children):
            child.stop()
            print(f"* stopped {name}")


def _wait_for_stop(children):
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        while not stopping:
            for name, child in children:
                if child.proc.poll() is not None:
                    print(f"! {name} exited with {child.proc.returncode}; stopping the stack")
                    return
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
