"""Starts the embedded servers ``make run``, the tests and the benchmarks need.

When ``MONGO_URI`` is unset a SecantusDB (MongoDB wire protocol over WiredTiger) runs as
a child process on a free port; when nothing answers at ``REDIS_URL`` a ``redis-server``
is started. Nothing else in the package knows these are not a production mongod/Redis.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
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


def _bin(name):
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else (shutil.which(name) or name)


class Child:
    """A child server process stopped with SIGTERM (then SIGKILL) when we are done."""

    def __init__(self, args, log_path=None, env=None, inherit_output=False):
        self.log = open(log_path, "ab") if log_path else (None if inherit_output else subprocess.DEVNULL)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        if self.log not in (None, subprocess.DEVNULL):
            self.log.close()


def start_secantus(storage_path=":memory:", log_path=None, port=None):
    port = port or free_port()
    if storage_path != ":memory:":
        Path(storage_path).mkdir(parents=True, exist_ok=True)
    child = Child([_bin("secantusd-py"), "--host", "127.0.0.1", "--port", str(port),
                   "--storage-path", str(storage_path)], log_path)
    wait_for_port("127.0.0.1", port, 60, child.proc)
    return child, f"mongodb://127.0.0.1:{port}"


def redis_answers(url):
    parsed = urlparse(url)
    return port_answers(parsed.hostname or "127.0.0.1", parsed.port or 6379)


def start_redis(port=None, log_path=None):
    port = port or free_port()
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `apt-get install redis-server` "
                           "or point REDIS_URL at a running Redis")
    child = Child([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                  log_path)
    wait_for_port("127.0.0.1", port, 15, child.proc)
    return child, f"redis://127.0.0.1:{port}/0"
