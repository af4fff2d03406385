"""The service as Strapi's official v3 JavaScript SDK (``strapi-sdk-javascript`` 0.3.3, unchanged) and
react-admin's Strapi data provider (``ra-strapi-rest`` 0.1.3 with react-admin 5.15.4) see it: ``clients/``
holds ``node --test`` suites, run here headless against a real HTTP server of the app."""
import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parent.parent / "clients"
NODE = shutil.which("node")
STAMP = CLIENTS / "node_modules" / ".maiascore-lockfile-sha256"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (CI installs nodejs and npm)")

SUITES = [
    pytest.param("auth.test.js", id="auth"),
    pytest.param("reports.test.js", id="reports"),
    pytest.param("trainings.test.js", id="trainings"),
    pytest.param("filters.test.js", id="filters"),
    pytest.param("updates.test.js", id="updates"),
    pytest.param("password.test.js", id="password"),
    pytest.param("react-admin.test.mjs", id="react-admin"),  # ra-strapi-rest 0.1.3 with react-admin 5
]


def _npm_ci():
    """``npm ci`` once per lockfile: a stamp in node_modules holds the hash it was installed from;
    a lock file keeps two pytest processes from installing at the same time."""
    digest = hashlib.sha256((CLIENTS / "package-lock.json").read_bytes()).hexdigest()
    with open(CLIENTS / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if STAMP.exists() and STAMP.read_text().strip() == digest:
            return
        npm = shutil.which("npm")
        assert npm, "node is installed but npm is not: install npm to run the SDK suite"
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENTS, capture_output=True, text=True,
                                timeout=240)
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        STAMP.write_text(digest)


@pytest.fixture(scope="module")
def node_modules():
    _npm_ci()


@pytest.mark.parametrize("suite", SUITES)
def test_sdk_suite(suite, node_modules, server, make_actor, app):
    # The suites exercise the contract, each filter and operator many times a minute, not the rate budget
    # (tests/test_neighbours.py and test_tenancy.py do).
    app.config["MAIASCORE"].RATE_LIMIT_PER_MINUTE = 100_000
    admin = make_actor("Account Admin")
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env.update(MAIASCORE_URL=server, MAIASCORE_IDENTIFIER=admin.email, MAIASCORE_PASSWORD=admin.password,
               NO_COLOR="1", SDK_DEBUG="1")
    result = subprocess.run([NODE, "--test", "--test-reporter=spec", f"test/{suite}"],
                            cwd=CLIENTS, env=env, capture_output=True, text=True, timeout=240)
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, f"node --test test/{suite} failed:\n{output[-12000:]}"
