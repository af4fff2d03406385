"""``make run``: the whole stack in the foreground, supervised, stopped together on Ctrl-C.

Starts what is missing (an embedded MongoDB-protocol server when ``MONGO_URI`` is unset,
a Redis when nothing answers at ``REDIS_URL``), then gunicorn and one RQ worker per role,
after making sure the Default group and its admin exist. A worker that dies is restarted;
any other process dying stops the stack. Every child runs in a process group of its own
and stopping ends the whole group, so nothing it forked (RQ's scheduler and work horse,
gunicorn's workers) outlives the stack.

While it runs, ``VAR_DIR/stack.json`` names its servers, so ``maiascore`` commands in
another shell reach the same database (``config.stack_state``).
"""
import ipaddress
import json
import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from config import DEFAULT_ADMIN_PASSWORD, STACK_STATE_FILE, Config, given, reset_process_settings, stack_state
from maiascore import devstack
from maiascore.accounts.service import ensure_admin
from maiascore.connections import get_db
from maiascore.indexes import ensure_indexes
from maiascore.queue import ROLES, worker_command
from maiascore.trainings.service import launch_training

DEMO_TRAINING_UUID = "demo-german-credit"
CONTROL_SOCKET = "gunicorn.ctl"  # under VAR_DIR: `gunicornc -s var/gunicorn.ctl` reaches this stack's gunicorn
PROCFILE_NAMES = {"scoring": "worker", "training": "trainer"}
WORKER_COUNTS = {"training": "TRAINING_WORKERS"}  # the setting of how many workers of a role run (one pool)
RESTART_BACKOFF_MAX = 30  # seconds between restarts of a worker that keeps dying at once


def gunicorn_command(bind, workers, connections, *, backlog=2048, keepalive=5, gunicorn="gunicorn",
                     access_log=None, app="wsgi:app", control_socket=None):
    """The API's gunicorn command line: the one definition the Procfile, ``make run`` and the benchmark use.

    gevent workers: a request waiting for a score (``MAX_WAIT_SECONDS``), for MongoDB or for Redis
    holds a greenlet, not a thread, so ``connections`` requests per worker may wait at once while
    the others are served. No gunicorn access log unless ``access_log`` names one: the API's own request
    log (``maiascore.access``) already writes a line per request, with its id, user and group. gunicorn's control
    socket defaults to one path per user (``~/.gunicorn/gunicorn.ctl``) that every stack on the host
    would share: it is the stack's own ``control_socket`` path, or off.
    """
    args = [gunicorn, "--bind", str(bind), "--workers", str(workers), "--worker-class", "gevent",
            "--worker-connections", str(connections), "--backlog", str(backlog), "--keep-alive", str(keepalive)]
    if access_log:
        args += ["--access-logfile", str(access_log)]
    args += ["--control-socket", str(control_socket)] if control_socket else ["--no-control-socket"]
    return args + [app]


def procfile():
    """The Procfile's text, generated from the same command lines ``make run`` runs."""
    web = gunicorn_command("${HOST:-0.0.0.0}:${PORT:-5000}", "${WEB_CONCURRENCY:-2}",
                           "${WEB_WORKER_CONNECTIONS:-1000}", backlog="${WEB_BACKLOG:-2048}",
                           keepalive="${WEB_KEEPALIVE_SECONDS:-5}")
    lines = [f"web: {' '.join(web)}"]
    for role in ROLES:
        count = WORKER_COUNTS.get(role)
        worker = worker_command(role, count=count and f"${{{count}:-1}}")
        lines.append(f"{PROCFILE_NAMES[role]}: {' '.join(worker)}")
    return "\n".join(lines) + "\n"


def _secret_key(var_dir):
    path = var_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _connect_host(host):
    """Where to knock to see the API up: a wildcard bind answers on loopback."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def _write_state(path, state):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)


class Supervised:
    """One process of the stack; ``restart`` ones are started again when they die."""

    def __init__(self, name, start, restart=False):
        self.name, self._start, self.restart = name, start, restart
        self.quick_deaths = 0
        self.due = None  # when a dead process is to be started again
        self.child = start()
        self.started = time.monotonic()

    def check(self):
        """None while all is well; the exit code when it died and must not come back."""
        if self.due is not None:
            if time.monotonic() >= self.due:
                self.due = None
                self.child = self._start()
                self.started = time.monotonic()
                print(f"* restarted {self.name} (pid {self.child.proc.pid})")
            return None
        code = self.child.proc.poll()
        if code is None:
            return None
        if not self.restart:
            return code
        self.child.stop()  # its group may outlive it: RQ's scheduler, a work horse
        quick = time.monotonic() - self.started < RESTART_BACKOFF_MAX
        self.quick_deaths = self.quick_deaths + 1 if quick else 0
        delay = min(2 ** (self.quick_deaths - 1), RESTART_BACKOFF_MAX) if self.quick_deaths > 1 else 0
        print(f"! {self.name} (pid {self.child.proc.pid}) exited with {code}; restarting it"
              + (f" in {delay}s" if delay else ""))
        self.due = time.monotonic() + delay
        return None

    def stop(self):
        self.child.stop()


def run_stack(var_dir=None, port=None, web_workers=None):
    sys.stdout.reconfigure(line_buffering=True)  # our lines and the children's, in order, in a log file too
    for signum in (signal.SIGTERM, signal.SIGHUP):  # stopped like Ctrl-C, at any point: no orphans
        signal.signal(signum, _interrupt)
    cfg = Config(require_secret_key=False)  # the key is settled below, before the web app starts
    var_dir = Path(var_dir or cfg.VAR_DIR).resolve()
    running = stack_state(var_dir)
    if running:
        raise SystemExit(f"a stack is already running from {var_dir} (pid {running['pid']}); stop it first")
    var_dir.mkdir(parents=True, exist_ok=True)
    state_path = var_dir / STACK_STATE_FILE
    host, port = cfg.HOST, int(port or cfg.PORT)
    # The children's environment: what is started here is passed down through os.environ.
    os.environ["VAR_DIR"] = str(var_dir)  # the children's state (MAIL_DIR...) follows this stack's directory
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_fresh_metrics_dir(cfg.PROMETHEUS_MULTIPROC_DIR or var_dir / "metrics"))
    procs = []
    try:
        if given("MONGO_URI"):
            mongo_uri = cfg.MONGO_URI
        else:
            procs.append(Supervised("mongodb (SecantusDB)", lambda: devstack.start_secantus(
                var_dir / "mongo", var_dir / "mongo.log")[0]))
            mongo_uri = os.environ["MONGO_URI"] = devstack.embedded_mongo_uri(_child_port(procs[-1].child))
            print(f"* embedded MongoDB-protocol server at {mongo_uri}, data in {var_dir / 'mongo'}")
        redis_url = cfg.REDIS_URL if given("REDIS_URL") else "redis://127.0.0.1:6379/0"
        os.environ["REDIS_URL"] = redis_url
        if not devstack.redis_answers(redis_url):
            redis_port = urlparse(redis_url).port or 6379
            procs.append(Supervised("redis", lambda: devstack.start_redis(redis_port, var_dir / "redis.log")[0]))
            print(f"* started {procs[-1].child.args[0]} for {redis_url}")
        if not given("SECRET_KEY", "JWT_SECRET_KEY"):
            os.environ["SECRET_KEY"] = _secret_key(var_dir)
        api = f"http://{host}:{port}"
        _write_state(state_path, {"pid": os.getpid(), "mongo_uri": mongo_uri, "redis_url": redis_url,
                                  "redis_prefix": cfg.REDIS_PREFIX, "api": api})

        reset_process_settings()
        ensure_indexes(get_db())
        email, password = cfg.MAIASCORE_ADMIN_EMAIL, cfg.MAIASCORE_ADMIN_PASSWORD
        user, group, created = ensure_admin(email, password)
        state = "created" if created else "exists"
        print(f"* account group {group['name']!r} (aid {group['_id']}), admin {email} ({state})"
              + (f", password {password!r}" if created else ""))
        if not _is_loopback(host) and password == DEFAULT_ADMIN_PASSWORD:
            print(f"! HOST={host}: the API is reachable beyond this machine and the admin password is the "
                  "well-known default; set MAIASCORE_ADMIN_PASSWORD")

        if cfg.MAIASCORE_DEMO_MODEL:
            training = launch_training(group["_id"], user, {"uuid": DEMO_TRAINING_UUID,
                                                            "meta": {"dataset": "german-credit"}})
            print(f"* demo model: training {training['_id']} on the bundled german-credit data "
                  f"({training['status']}; set MAIASCORE_DEMO_MODEL=0 to skip)")

        bin_dir = Path(sys.executable).parent
        web_args = gunicorn_command(f"{host}:{port}", web_workers or cfg.WEB_CONCURRENCY,
                                    cfg.WEB_WORKER_CONNECTIONS, backlog=cfg.WEB_BACKLOG,
                                    keepalive=cfg.WEB_KEEPALIVE_SECONDS, gunicorn=str(bin_dir / "gunicorn"),
                                    control_socket=var_dir / CONTROL_SOCKET)
        web = Supervised("api (gunicorn)", lambda: devstack.Child(web_args, inherit_output=True))
        procs.append(web)
        for role in ROLES:
            count = WORKER_COUNTS.get(role)
            args = worker_command(role, rq=str(bin_dir / "rq"), count=count and getattr(cfg, count))
            procs.append(Supervised(f"{role} worker (rq)", lambda args=args: devstack.Child(args, inherit_output=True),
                                    restart=True))
        devstack.wait_for_port(_connect_host(host), port, 60, web.child.proc)
        knock = _connect_host(host)
        devstack.wait_for_http(f"http://{f'[{knock}]' if ':' in knock else knock}:{port}/healthz", 180,
                               web.child.proc)
        print(f"* API on {api}  (docs: {api}/docs, console: {api}/app)")
        print("* Ctrl-C stops everything")
        _supervise(procs)
    finally:
        for proc in reversed(procs):
            proc.stop()
            print(f"* stopped {proc.name}")
        if stack_state(var_dir).get("pid") == os.getpid():
            state_path.unlink(missing_ok=True)


def _fresh_metrics_dir(path):
    """Where every web and RQ worker process keeps its metrics (prometheus_client's multiprocess mode);
    emptied at each start, as prometheus_client requires: a file of a previous run would count twice."""
    path = Path(path).resolve()
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _child_port(child):
    """The port a just-started SecantusDB listens on (its command line says it)."""
    return int(child.args[child.args.index("--port") + 1])


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _supervise(procs):
    try:
        while True:
            for proc in procs:
                code = proc.check()
                if code is not None:
                    print(f"! {proc.name} exited with {code}; stopping the stack")
                    return
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
