"""The seed's code snippets (curl, Node, Python), run as published with only the host and the token
changed, against the app served over HTTPS (a throwaway self-signed certificate)."""
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from maiascore import devstack

SEED_FILE = Path("/work/shared/seeds/000_7e3171984ee6368f.txt")

CURL = """curl --request POST \\
  --url https://maiascore.com/reports \\
  --header 'Authorization: Bearer REPLACE_BEARER_TOKEN' \\
  --header 'content-type: application/x-www-form-urlencoded' \\
  --data '{"uuid":"string","referenceId":"string","type":"reference","processed":true,"users_permissions_user":"string","score":0,"scoreProbability":0,"scoreConfidence":0,"scoreVersion":"string"}'
"""

NODE = """const http = require("https");

const options = {
  method: "POST",
  hostname: "maiascore.com",
  port: null,
  path: "/reports",
  headers: {
    "content-type": "application/x-www-form-urlencoded",
    Authorization: "Bearer REPLACE_BEARER_TOKEN",
  },
};

const req = http.request(options, function (res) {
  const chunks = [];

  res.on("data", function (chunk) {
    chunks.push(chunk);
  });

  res.on("end", function () {
    const body = Buffer.concat(chunks);
    console.log(body.toString());
  });
});

req.write(
  JSON.stringify({
    uuid: "string",
    referenceId: "string",
    type: "reference",
    processed: true,
    users_permissions_user: "string",
    score: 0,
    scoreProbability: 0,
    scoreConfidence: 0,
    scoreVersion: "string",
  })
);
req.end();
"""

PYTHON = """import http.client

conn = http.client.HTTPSConnection("maiascore.com")

payload = "{\\"uuid\\":\\"string\\",\\"referenceId\\":\\"string\\",\\"type\\":\\"reference\\",\\"processed\\":true,\\"users_permissions_user\\":\\"string\\",\\"score\\":0,\\"scoreProbability\\":0,\\"scoreConfidence\\":0,\\"scoreVersion\\":\\"string\\"}"

headers = {
    'content-type': "application/x-www-form-urlencoded",
    'Authorization': "Bearer REPLACE_BEARER_TOKEN"
    }

conn.request("POST", "/reports", payload, headers)

res = conn.getresponse()
data = res.read()

print(data.decode("utf-8"))
"""

SNIPPETS = {"shell": CURL, "javascript": NODE, "python": PYTHON}


@pytest.fixture
def https_app(app, tmp_path):
    """The app on 127.0.0.1 over TLS; the clients trust its certificate through their usual variables."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-keyout", str(key), "-out", str(cert), "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    port = devstack.free_port()
    server = make_server("127.0.0.1", port, app, threaded=True, ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "SSL_CERT_FILE": str(cert), "CURL_CA_BUNDLE": str(cert),
           "NODE_EXTRA_CA_CERTS": str(cert)}
    yield port, env
    server.shutdown()
    thread.join()


def localise(snippet, port, token):
    """Only the host and the token change."""
    text = snippet.replace("REPLACE_BEARER_TOKEN", token)
    text = text.replace('hostname: "maiascore.com",\n  port: null,', f'hostname: "127.0.0.1",\n  port: {port},')
    return text.replace("maiascore.com", f"127.0.0.1:{port}")


def run_snippet(language, snippet, tmp_path, env):
    import sys

    if language == "shell":
        command = ["bash", "-c", snippet]
    elif language == "javascript":
        (tmp_path / "snippet.js").write_text(snippet)
        command = [shutil.which("node"), str(tmp_path / "snippet.js")]
    else:
        command = [sys.executable, "-c", snippet]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_embedded_snippets_are_the_seeds():
    if not SEED_FILE.exists():
        pytest.skip("seed documents not on this machine")
    text = SEED_FILE.read_text()
    for language, snippet in SNIPPETS.items():
        assert re.findall(rf'```{language} title="[^"]*"\n(.*?)```', text, re.S) == [snippet]


def test_seed_snippets_create_one_report_and_are_idempotent_on_their_uuid(https_app, admin, db, tmp_path):
    port, env = https_app
    ids = []
    for language, snippet in SNIPPETS.items():
        if language == "javascript" and shutil.which("node") is None:
            continue
        if language == "shell" and shutil.which("curl") is None:
            continue
        output = run_snippet(language, localise(snippet, port, admin.jwt), tmp_path, env)
        report = json.loads(output)
        assert report["status"] in ("queued", "waiting_for_model", "processed"), output
        assert report["uuid"] == "string" and report["type"] == "reference"
        assert report["users_permissions_user"]["id"] == admin.id
        for secret in ("password", "resetPasswordToken", "confirmationToken"):
            assert secret not in output
        ids.append(report["id"])
    assert len(ids) >= 2 and len(set(ids)) == 1  # the seed's fixed uuid makes every rerun return the first
    assert db.score_reports.count_documents({}) == 1


def test_seed_snippet_without_a_valid_token_gets_the_documented_error(https_app, tmp_path):
    port, env = https_app
    output = run_snippet("python", localise(PYTHON, port, "not-a-token"), tmp_path, env)
    assert json.loads(output) == {"code": 401, "message": "Invalid, expired or revoked credentials"}
