"""`make run`'s stack end to end: embedded MongoDB, gunicorn, a worker, the admin, the README's first example."""
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from maiascore.devstack import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent


def http(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers, response.read()


def test_up_starts_everything_and_the_readme_example_works(servers, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "MONGO_DB_NAME", "MAIASCORE_TESTING")}
    env.update(PORT=str(port), REDIS_URL=servers["redis_url"], WEB_CONCURRENCY="1", PYTHONPATH=str(ROOT),
               MAIASCORE_ADMIN_EMAIL="admin@example.com", MAIASCORE_ADMIN_PASSWORD="maiascore-admin")
    log = open(tmp_path / "up.log", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("maiascore")), "up"], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port("127.0.0.1", port, 90, proc)
        base = f"http://127.0.0.1:{port}"
        status, _, body = http("POST", f"{base}/auth/local",
                               json.dumps({"identifier": "admin@example.com", "password": "maiascore-admin"}).encode(),
                               {"content-type": "application/json"})
        assert status == 200
        token = json.loads(body)["jwt"]
        status, _, body = http("GET", f"{base}/users/me", headers={"Authorization": f"Bearer {token}"})
        assert json.loads(body) == {"id": 1, "username": "admin", "email": "admin@example.com", "provider": "local",
                                    "confirmed": True, "blocked": False, "role": "Account Admin"}
        status, headers, body = http("GET", f"{base}/users/me",
                                     headers={"Authorization": f"Bearer {token}", "Accept": "application/xml"})
        assert headers["Content-Type"].startswith("application/xml")
        assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<item><id>1</id><username>admin</username>')
        status, _, body = http("GET", f"{base}/docs")
        assert status == 200 and b"swagger" in body.lower()
        assert (tmp_path / "var" / "mongo").is_dir()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
        log.close()
    output = (tmp_path / "up.log").read_text()
    assert "stopped api (gunicorn)" in output and "stopped worker (rq)" in output
    assert "stopped mongodb (SecantusDB)" in output
