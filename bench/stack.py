"""The stack a benchmark runs against, started the way production runs it.

A SecantusDB and a redis-server of our own on free ports (never the machine's Redis),
the API under the Procfile's gunicorn command line (``launcher.gunicorn_command``, bound
to loopback), the floor app under the very same settings, and real ``rq worker``
processes with the product's worker class. Everything started here is stopped by
:meth:`Stack.close`, children first.

Logs go to files in the log directory, never to the terminal: the printed tables carry no
request lines (the API's ``maiascore.access`` log, one line per request, as under ``make run``;
gunicorn's own access log is off there too).
"""
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from pymongo import MongoClient

from config import Config
from maiascore import devstack
from maiascore.launcher import gunicorn_command
from maiascore.queue import ROLES, worker_command

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DB_NAME = "maiascore_bench"
ADMIN_EMAIL = "bench@example.com"



SCORING = ROLES["scoring"]  # the queues a production scoring worker serves: the folds of model health too

class Stack:
    def __init__(self, name="bench", log_dir=None, extra_env=None):
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix=f"maiascore-{name}-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children = []
        self.workers = []
        self.started_workers = 0
        # BENCH_MONGO_URI: measure against that MongoDB (its database maiascore_bench is dropped and
        # refilled); unset, an embedded MongoDB-protocol server of the run's own
        mongo_uri = os.environ.get("BENCH_MONGO_URI")
        self.mongo = None
        if not mongo_uri:
            self.mongo, mongo_uri = devstack.start_secantus(":memory:", self.log_dir / "secantus.log")
        else:
            MongoClient(mongo_uri).drop_database(DB_NAME)
        self.redis_port = devstack.free_port()
        self.redis, redis_url = devstack.start_redis(self.redis_port, self.log_dir / "redis.log")
        self.env = dict(os.environ)
        self.env.update(
            MONGO_URI=mongo_uri, REDIS_URL=redis_url, MONGO_DB_NAME=DB_NAME,
            SECRET_KEY=secrets.token_hex(32), RATE_LIMIT_PER_MINUTE=str(10**9),
            UNAUTHORIZED_PER_MINUTE=str(10**9), MAX_WAIT_SECONDS="60", PYTHONPATH=str(ROOT),
            ARGON2_TIME_COST="1", ARGON2_MEMORY_KIB="8192",
        )
        self.env.pop("MAIASCORE_TESTING", None)
        _request_log_to_file(self.log_dir / "inprocess.access.log")
        self.env.update(extra_env or {})
        os.environ.update({k: self.env[k] for k in ("MONGO_URI", "REDIS_URL", "MONGO_DB_NAME", "SECRET_KEY",
                                                    "RATE_LIMIT_PER_MINUTE")})
        from config import reset_process_settings

        reset_process_settings()
        self.aid = self.user = self.token = None

    # -- servers -------------------------------------------------------------
    def web(self, app="wsgi:app", name="api", workers=2):
        """gunicorn as the Procfile runs it; returns (port, Child)."""
        port = devstack.free_port()
        cfg = Config(require_secret_key=False)
        args = gunicorn_command(f"127.0.0.1:{port}", workers, cfg.WEB_WORKER_CONNECTIONS, backlog=cfg.WEB_BACKLOG,
                                keepalive=cfg.WEB_KEEPALIVE_SECONDS, gunicorn=str(BIN / "gunicorn"), app=app)
        child = devstack.Child(args, self.log_dir / f"{name}.log", env=self.env)
        self.children.append(child)
        devstack.wait_for_port("127.0.0.1", port, 60, child.proc)
        return port, child

    def stop(self, child):
        child.stop()
        if child in self.children:
            self.children.remove(child)
        if child in self.workers:
            self.workers.remove(child)

    def worker(self, queues=("scores", "trainings"), worker_class=None, scheduler=True, name=None):
        """A worker started as production starts one (``worker_command``); ``worker_class`` swaps the class
        (the floor's bare worker)."""
        n = self.started_workers
        self.started_workers += 1
        args = worker_command("scoring", rq=str(BIN / "rq"), scheduler=scheduler, queues=queues)
        if worker_class:
            args[args.index("-w") + 1] = worker_class
        child = devstack.Child(args, self.log_dir / f"{name or 'worker'}{n}.log", env=self.env)
        self.children.append(child)
        self.workers.append(child)
        return child

    def stop_workers(self):
        for child in list(self.workers):
            self.stop(child)

    def restart_redis(self, down_seconds=2.0):
        """Stops our redis-server and starts a fresh one (empty) on the same port."""
        self.redis.stop()
        time.sleep(down_seconds)
        self.redis, _ = devstack.start_redis(self.redis_port, self.log_dir / "redis.log")

    def close(self):
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        self.workers.clear()
        self.redis.stop()
        if self.mongo is not None:
            self.mongo.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- data ---------------------------------------------------------------
    def db(self):
        from maiascore.connections import get_db

        return get_db()

    def redis_client(self):
        from maiascore.connections import get_redis

        return get_redis()

    def setup_tenant(self):
        """A group, its admin and an API token, through the product's own service functions."""
        from maiascore.accounts.service import ensure_admin
        from maiascore.auth.service import create_api_token
        from maiascore.indexes import INDEXES, ensure_indexes

        db = self.db()
        ensure_indexes(db)
        db.floor_reports.create_indexes(INDEXES["score_reports"])
        self.user, group, _ = ensure_admin(ADMIN_EMAIL, secrets.token_urlsafe(16), group_name="Bench")
        self.aid = group["_id"]
        _, self.token = create_api_token(self.user, "bench")
        self.env["BENCH_AID"] = str(self.aid)
        os.environ["BENCH_AID"] = str(self.aid)
        return self

    @property
    def headers(self):
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                "Accept": "application/json"}

    def install_model(self):
        """Trains the bundled german-credit model and makes it the group's active model."""
        from bench.data import install_model

        return install_model(self.aid)

    def flush_queues(self):
        self.redis_client().flushdb()


def _request_log_to_file(path):
    """The request log of apps created in this process (web_profile, data setup) goes to ``path``."""
    logger = logging.getLogger("maiascore.access")
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers = [handler]
    logger.propagate = False


def rss_mb(child):
    """Resident memory of a child and all its descendants (gunicorn master + workers)."""
    try:
        proc = psutil.Process(child.proc.pid)
        procs = [proc] + proc.children(recursive=True)
        return round(sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20, 1)
    except psutil.NoSuchProcess:
        return None


def cpu_seconds(child):
    """CPU seconds (user + system) a child and its live descendants have used so far."""
    try:
        proc = psutil.Process(child.proc.pid)
        procs = [proc] + proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def peak_rss_mb(pid):
    """Linux's high-water mark of a process's resident set (VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def kill9(child):
    """SIGKILL, as a crashed or OOM-killed worker dies."""
    try:
        os.killpg(child.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.proc.wait()


def run_python(module, *args, env=None, input_text=None, timeout=None):
    """Runs ``python -m module`` in a separate process; returns CompletedProcess."""
    return subprocess.run([sys.executable, "-m", module, *args], input=input_text, capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=timeout)
