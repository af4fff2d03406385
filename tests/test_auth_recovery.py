"""Issue 11 item 6: forgot/reset password as Strapi v3's users-permissions plugin, mail as .eml or SMTP,
and GET /users for the group's admins."""
import email
import hashlib
import logging
import re
import socket
from datetime import timedelta

import pytest
from pymongo.collection import Collection

from maiascore.clock import utcnow
from maiascore.queue import queue

CODE_RE = re.compile(r"\b[0-9a-f]{64}\b")
SECRETS = ("password", "resetPasswordToken", "hash", "$argon2", "credentialEpoch")


@pytest.fixture
def mail_dir(cfg, tmp_path, monkeypatch):
    cfg.MAIL_DIR = str(tmp_path / "mail")
    monkeypatch.setenv("MAIL_DIR", cfg.MAIL_DIR)  # the mail worker reads the environment
    return tmp_path / "mail"


@pytest.fixture
def deliver(run_worker):
    """Runs a real worker over the mail queue: reset mails are sent by a job, never by the request."""
    return lambda: run_worker(queues=("mail",))


def mails(mail_dir):
    return sorted(mail_dir.glob("*.eml")) if mail_dir.exists() else []


def code_from(path):
    message = email.message_from_bytes(path.read_bytes())
    return message["To"], CODE_RE.findall(message.get_payload(decode=True).decode())


def forgot(client, address):
    return client.post("/auth/forgot-password", json={"email": address,
                                                      "url": "https://evil.example/steal"})


def reset(client, code, password="a-brand-new-password", confirmation=None):
    return client.post("/auth/reset-password", json={"code": code, "password": password,
                                                     "passwordConfirmation": confirmation or password})


def test_forgot_answers_the_same_for_unknown_and_known_emails(client, admin, mail_dir, deliver):
    unknown = forgot(client, "nobody@example.com")
    deliver()
    assert mails(mail_dir) == []
    known = forgot(client, admin.email.upper())
    deliver()
    assert unknown.status_code == known.status_code == 200
    assert unknown.get_json() == known.get_json() == {"ok": True}
    (path,) = mails(mail_dir)
    to, codes = code_from(path)
    assert to == admin.email and len(codes) == 1
    assert "evil.example" not in path.read_text()  # the caller's url is never the link


def test_reset_code_works_once_and_ends_earlier_logins(client, admin, mail_dir, db, deliver):
    token = admin.api_token()
    forgot(client, admin.email)
    deliver()
    (code,) = code_from(mails(mail_dir)[0])[1]
    stored = db.password_resets.find_one({"user": admin.id})
    assert stored["_id"] == hashlib.sha256(code.encode()).hexdigest()
    assert code not in str(stored)

    r = reset(client, code)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"jwt", "user"} and body["user"]["id"] == admin.id
    assert not any(marker in r.get_data(as_text=True) for marker in SECRETS)
    assert client.get("/users/me", headers={"Authorization": f"Bearer {body['jwt']}"}).status_code == 200
    assert admin.get("/users/me").status_code == 401  # the JWT from before the reset
    assert client.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.post("/auth/local", json={"identifier": admin.email,
                                            "password": "a-brand-new-password"}).status_code == 200
    assert client.post("/auth/local", json={"identifier": admin.email,
                                            "password": admin.password}).status_code == 400

    again = reset(client, code, "yet-another-password")
    assert again.status_code == 400 and again.get_json()["message"] == "Incorrect code provided"


def test_an_expired_code_fails(client, admin, mail_dir, db, deliver):
    forgot(client, admin.email)
    deliver()
    (code,) = code_from(mails(mail_dir)[0])[1]
    db.password_resets.update_one({"user": admin.id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    r = reset(client, code)
    assert r.status_code == 400 and r.get_json()["message"] == "Incorrect code provided"
    assert admin.get("/users/me").status_code == 200  # nothing changed


def test_a_new_code_replaces_the_old_one(client, admin, mail_dir, deliver):
    forgot(client, admin.email)
    forgot(client, admin.email)
    deliver()
    first, second = (code_from(path)[1][0] for path in mails(mail_dir))
    assert first != second
    assert reset(client, first).status_code == 400
    assert reset(client, second).status_code == 200


def test_reset_refuses_mismatched_or_short_passwords_and_unknown_codes(client, admin, mail_dir, deliver):
    forgot(client, admin.email)
    deliver()
    (code,) = code_from(mails(mail_dir)[0])[1]
    r = reset(client, code, "a-brand-new-password", "a-different-password")
    assert r.status_code == 400 and r.get_json()["message"] == "Passwords do not match"
    assert reset(client, code, "short").status_code == 422
    assert reset(client, "0" * 64).status_code == 400
    assert client.post("/auth/reset-password", json={"code": code}).status_code == 422
    assert reset(client, code).status_code == 200  # the refusals did not spend the code


def test_blocked_users_get_no_mail(client, admin, make_actor, mail_dir, db, deliver):
    member = make_actor("Regular User", aid=admin.aid)
    db.users.update_one({"_id": member.id}, {"$set": {"blocked": True}})
    assert forgot(client, member.email).get_json() == {"ok": True}
    deliver()
    assert mails(mail_dir) == []


def test_codes_never_reach_the_logs(client, admin, mail_dir, caplog, deliver):
    caplog.set_level(logging.DEBUG, logger="maiascore")  # (the driver's own DEBUG lines echo commands)
    forgot(client, admin.email)
    worker = deliver()
    (code,) = code_from(mails(mail_dir)[0])[1]
    reset(client, code)
    reset(client, code)
    for text in (caplog.text, worker.stdout, worker.stderr):
        assert code not in text
        assert hashlib.sha256(code.encode()).hexdigest() not in text


def test_smtp_failure_still_answers_ok_and_leaks_nothing(cfg, client, admin, mail_dir, deliver, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    r = forgot(client, admin.email)
    assert r.status_code == 200 and r.get_json() == {"ok": True}
    worker = deliver()
    assert mails(mail_dir) == []  # SMTP configured: no file fallback
    logged = worker.stdout + worker.stderr
    assert f"user {admin.id}" in logged and "not sent" in logged


def test_forgot_and_reset_count_against_the_address(app, cfg, client, admin, mail_dir):
    cfg.LOGINS_PER_MINUTE_PER_ADDRESS = 2
    assert forgot(client, "a@example.com").status_code == 200
    assert reset(client, "0" * 64).status_code == 400
    assert forgot(client, admin.email).status_code == 429
    with app.app_context():
        assert [job.args[0] for job in queue("mail").jobs] == ["a@example.com"]  # the refused one queued nothing


def test_forgot_does_the_same_work_for_known_and_unknown_emails(app, client, admin, mail_dir, deliver, monkeypatch):
    """The request only counts the address and queues one job; the job looks the email up. Neither the
    answer nor the work done before it depends on whether the email has an account."""
    touched = []

    def recording(name):
        original = getattr(Collection, name)

        def call(self, *args, **kwargs):
            touched.append(self.name)
            return original(self, *args, **kwargs)
        return call

    for name in ("find", "find_one", "find_one_and_delete", "find_one_and_update", "count_documents",
                 "insert_one", "update_one", "delete_many", "aggregate"):
        monkeypatch.setattr(Collection, name, recording(name))
    known = forgot(client, admin.email)
    unknown = forgot(client, "nobody@example.com")
    assert touched == []  # no user lookup, no code written, in the request
    assert known.get_data() == unknown.get_data()
    assert mails(mail_dir) == []
    monkeypatch.undo()
    monkeypatch.setenv("MAIL_DIR", str(mail_dir))
    with app.app_context():
        jobs = queue("mail").jobs
    assert len(jobs) == 2
    assert jobs[0].func_name == jobs[1].func_name
    assert [type(arg) for arg in jobs[0].args] == [type(arg) for arg in jobs[1].args]
    assert jobs[0].args[0] == admin.email and jobs[1].args[0] == "nobody@example.com"
    assert jobs[0].kwargs == jobs[1].kwargs == {}
    deliver()
    (path,) = mails(mail_dir)
    assert code_from(path)[0] == admin.email


def test_admins_list_their_groups_users_strapi_style(admin, make_actor):
    reader = make_actor("Read Only", aid=admin.aid)
    outsider = make_actor("Account Admin")
    r = admin.get("/users")
    assert r.status_code == 200
    users = r.get_json()
    assert [u["id"] for u in users] == [admin.id, reader.id]
    assert {u["role"]["name"] for u in users} == {"Account Admin", "Read Only"}
    assert set(users[0]) == {"id", "username", "email", "provider", "confirmed", "blocked", "role"}
    assert not any(marker in r.get_data(as_text=True) for marker in SECRETS)
    assert [u["id"] for u in admin.get(f"/users?email={reader.email}").get_json()] == [reader.id]
    assert [u["id"] for u in admin.get("/users?_sort=id:DESC&_limit=1").get_json()] == [reader.id]
    assert admin.get("/users/count").get_json() == 2
    assert admin.get(f"/users/{reader.id}").get_json()["role"]["name"] == "Read Only"
    assert admin.get(f"/users/{outsider.id}").status_code == 404
    assert admin.get("/users?password=x").status_code == 400
    assert reader.get("/users").status_code == 403
    assert reader.get("/users/count").status_code == 403
