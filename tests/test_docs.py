"""Docs that run: every ```sh block of README.md and docs/*.md, against the real stack `make run` starts.

Each file runs in one bash session (so ``$TOKEN`` and ids carry from block to block), with
http://127.0.0.1:5000 rewritten to the test's port, in the directory the stack runs in, as a
user's shell sits in the repository's root next to `make run`'s ``var/``: there ``var/mail``
is the stack's mail and ``docs`` links to the repository's, so ``@docs/examples/...`` uploads. A block fails the test
when it exits non-zero (``set -eo pipefail``) or prints a 5xx error; the ```text block that follows
a ```sh block is its output: compared exactly, or by shape (JSON keys and value types) when the
fence says ``text shape only``. ```sh norun blocks (``make run`` itself, production commands) are
shown, not run.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis as redis_lib

from maiascore.devstack import free_port, wait_for_http, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
DEFAULT_BASE = "http://127.0.0.1:5000"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
MARKER = "@@docs-block@@"


def blocks(path):
    """(sh source, expected output or None, shape_only) for each runnable sh block of a file."""
    fences = [(info.strip().split(), body) for info, body in FENCE.findall(path.read_text())]
    found = []
    for i, (info, body) in enumerate(fences):
        if not info or info[0] != "sh" or "norun" in info:
            continue
        expected, shape_only = None, False
        if i + 1 < len(fences) and fences[i + 1][0][:1] == ["text"]:
            expected = fences[i + 1][1]
            shape_only = "shape" in fences[i + 1][0]
        found.append((body, expected, shape_only))
    return found


def items(text):
    """The output as a list of JSON values and text lines (pretty-printed or compact alike)."""
    decoder = json.JSONDecoder()
    out, pos = [], 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        end = text.find("\n", pos)
        end = len(text) if end == -1 else end
        if text[pos] in '{["-0123456789tfn':
            try:
                value, after = decoder.raw_decode(text, pos)
                if after >= len(text) or text[after].isspace():
                    out.append(value)
                    pos = after
                    continue
            except ValueError:
                pass
        out.append(("text", text[pos:end].rstrip()))
        pos = end
    return out


def same_shape(expected, actual, where="output"):
    if isinstance(expected, tuple):  # a text line: numbers and hex ids may differ
        assert isinstance(actual, tuple), f"{where}: expected text {expected[1]!r}, got {actual!r}"
        mask = lambda s: re.sub(r"[0-9a-f]{8,}|\d+(\.\d+)?", "#", s)  # noqa: E731
        assert mask(expected[1]) == mask(actual[1]), f"{where}: {expected[1]!r} != {actual[1]!r}"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        assert set(expected) == set(actual), f"{where}: keys {sorted(expected)} != {sorted(actual)}"
        for key in expected:
            if expected[key] is not None and actual[key] is not None:
                same_shape(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        if expected and actual:
            same_shape(expected[0], actual[0], f"{where}[0]")
    elif isinstance(expected, (int, float)) and not isinstance(expected, bool):
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), f"{where}: {actual!r}"
    else:
        assert type(expected) is type(actual), f"{where}: {expected!r} vs {actual!r}"


def run_file(path, base, cwd=ROOT, timeout=180):
    """Runs a file's sh blocks in one bash session; returns [(block, expected, shape_only, output)]."""
    found = blocks(path)
    script = ["set -eo pipefail"]
    for i, (body, _, _) in enumerate(found):
        script.append(f"printf '\\n{MARKER}{i}\\n'")
        script.append(body.replace(DEFAULT_BASE, base))
    script.append(f"printf '\\n{MARKER}end\\n'")
    result = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    parts = re.split(rf"\n{MARKER}(\d+|end)\n", "\n" + result.stdout)
    outputs = dict(zip(parts[1::2], parts[2::2]))
    if result.returncode != 0 or "end" not in outputs:
        ran = [k for k in outputs if k != "end"]
        failed = found[int(ran[-1])][0] if ran else "(before the first block)"
        pytest.fail(f"{path.name}: this block exited {result.returncode}:\n{failed}\n"
                    f"stdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-2000:]}")
    return [(body, expected, shape_only, outputs[str(i)]) for i, (body, expected, shape_only) in enumerate(found)]


def check(path, ran):
    for body, expected, shape_only, output in ran:
        actual = items(output)
        for value in actual:
            if isinstance(value, dict) and isinstance(value.get("code"), int):
                assert value["code"] < 500, f"{path.name}: server error from\n{body}\n{output}"
        if expected is None:
            continue
        wanted = items(expected)
        assert len(wanted) == len(actual), (f"{path.name}: block\n{body}\nprinted {len(actual)} items, "
                                            f"the docs show {len(wanted)}:\n{output}")
        for want, got in zip(wanted, actual):
            if shape_only:
                same_shape(want, got, f"{path.name} output")
            else:
                assert want == got, f"{path.name}: block\n{body}\nprinted {got!r}, the docs show {want!r}"


def _http(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory):
    """What `make run` starts (maiascore up): embedded MongoDB, gunicorn, both workers, admin, demo model."""
    tmp = tmp_path_factory.mktemp("docs-stack")
    (tmp / "docs").symlink_to(ROOT / "docs", target_is_directory=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("MONGO_URI", "MONGO_DB_NAME", "MAIASCORE_TESTING", "SECRET_KEY", "JWT_SECRET_KEY")}
    env.update(PORT=str(port), REDIS_URL=servers["redis_url"], WEB_CONCURRENCY="2", PYTHONPATH=str(ROOT))
    redis_lib.Redis.from_url(servers["redis_url"]).flushdb()
    log = open(tmp / "up.log", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("maiascore")), "up"], cwd=tmp, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port("127.0.0.1", port, 90, proc)
        wait_for_http(f"{base}/healthz", 180, proc)
        _, body = _http("POST", f"{base}/auth/local",
                        json.dumps({"identifier": "admin@example.com", "password": "maiascore-admin"}).encode(),
                        {"content-type": "application/json"})
        token = json.loads(body)["jwt"]
        deadline = time.monotonic() + 60  # the demo model trains in about a second
        while _http("GET", f"{base}/models/active", headers={"Authorization": f"Bearer {token}"})[0] != 200:
            assert time.monotonic() < deadline, (tmp / "up.log").read_text()[-3000:]
            time.sleep(0.3)
        yield base, tmp
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(60)
        log.close()


def test_every_doc_file_has_runnable_examples():
    assert (ROOT / "docs").is_dir()
    for path in DOC_FILES:
        text = path.read_text()
        assert "127.0.0.1:8765" not in text and "jq " not in text, path.name
        for info, body in FENCE.findall(text):
            if info.split()[:1] == ["sh"] and "norun" not in info:
                for name in re.findall(r"@(docs/examples/[\w./-]+)", body):
                    assert (ROOT / name).is_file(), f"{path.name} uploads {name}, which is not shipped"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_examples_run_as_printed(stack, path):
    base, cwd = stack
    check(path, run_file(path, base, cwd))


def test_shape_checker_catches_a_missing_key():
    with pytest.raises(AssertionError):
        same_shape(items('{"id": "a", "score": 1}')[0], items('{"id": "b"}')[0])
    same_shape(items('{"id": "6b0e", "n": 1}\nprocessed 575')[1], items("processed 601")[0])
