"""Logins, JWTs, API tokens, registration and the 401/403 boundaries."""
import json
from datetime import timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token, decode_token

from maiascore.auth.service import issue_jwt

SECRET_KEYS = ("password", "resetPasswordToken", "confirmationToken", "hash", "$argon2")


def assert_no_secrets(response):
    body = response.get_data(as_text=True)
    for marker in SECRET_KEYS:
        assert marker not in body, f"{marker!r} leaked in {body[:200]}"


def test_login_by_email_and_by_username_returns_jwt_and_public_user(client, admin):
    for identifier in (admin.email, admin.user["username"], admin.email.upper()):
        r = client.post("/auth/local", json={"identifier": identifier, "password": admin.password})
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert set(body["user"]) == {"id", "username", "email", "provider", "confirmed", "blocked", "role"}
        assert body["user"]["role"]["name"] == "Account Admin"
        assert_no_secrets(r)
        me = client.get("/users/me", headers={"Authorization": f"Bearer {body['jwt']}"})
        assert me.status_code == 200 and me.get_json()["id"] == admin.id


def test_wrong_password_and_unknown_user_answer_the_same_400(client, admin):
    wrong = client.post("/auth/local", json={"identifier": admin.email, "password": "nope-nope"})
    unknown = client.post("/auth/local", json={"identifier": "ghost@example.com", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.get_json() == unknown.get_json() == {"code": 400, "message": "Invalid identifier or password"}


def test_more_than_ten_failed_logins_in_a_minute_answer_429(client, admin):
    for _ in range(10):
        assert client.post("/auth/local", json={"identifier": admin.email, "password": "bad-pass"}).status_code == 400
    r = client.post("/auth/local", json={"identifier": admin.email, "password": admin.password})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "60"


def test_failed_logins_from_one_address_are_limited_across_identifiers(client, admin):
    for n in range(10):
        client.post("/auth/local", json={"identifier": f"ghost{n}@example.com", "password": "bad-pass"})
    r = client.post("/auth/local", json={"identifier": admin.email, "password": admin.password})
    assert r.status_code == 429


def test_blocked_user_gets_401_on_login_and_with_an_existing_token(client, admin, make_actor, db):
    member = make_actor("Regular User", aid=admin.aid)
    db.users.update_one({"_id": member.id}, {"$set": {"blocked": True}})
    r = client.post("/auth/local", json={"identifier": member.email, "password": member.password})
    assert r.status_code == 401
    assert member.get("/users/me").status_code == 401


def test_no_credentials_is_403_on_strapi_routes_and_401_on_v6(client):
    r = client.get("/users/me")
    assert r.status_code == 403
    assert r.get_json() == {"code": 403, "message": "Forbidden: this operation requires authentication"}
    r = client.get("/v6/account-groups")
    assert r.status_code == 401
    assert r.get_json()["code"] == 401


@pytest.mark.parametrize("header", [
    "Bearer not-a-jwt",
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "Bearer mst_unknown-token",
    "Basic !!!notbase64",
    "Basic dXNlcjpwYXNz",
    "Token abc",
])
def test_invalid_credentials_answer_401_everywhere(client, header):
    for path in ("/users/me", "/v6/account-groups"):
        r = client.get(path, headers={"Authorization": header})
        assert r.status_code == 401, (path, header, r.get_json())


def test_expired_jwt_answers_401(app, client, admin):
    with app.app_context():
        token = create_access_token(identity=str(admin.id), expires_delta=timedelta(seconds=-5))
    assert client.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_jwt_signed_with_another_key_answers_401(client, admin):
    forged = pyjwt.encode({"sub": str(admin.id), "type": "access"}, "another-key-another-key-another-key",
                          algorithm="HS256")
    assert client.get("/users/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_api_token_works_as_bearer_and_basic_then_stops_when_revoked(client, admin):
    created = admin.post("/users/me/tokens", json={"name": "ci"})
    assert created.status_code == 201
    token = created.get_json()["token"]
    token_id = created.get_json()["id"]
    assert client.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/v6/account-groups", headers=admin.basic(token)).status_code == 200

    listed = admin.get("/users/me/tokens")
    assert listed.status_code == 200
    assert [t["id"] for t in listed.get_json()] == [token_id]
    assert token not in listed.get_data(as_text=True)
    assert "hash" not in listed.get_json()[0]

    assert admin.delete(f"/users/me/tokens/{token_id}").status_code == 200
    assert client.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/v6/account-groups", headers=admin.basic(token)).status_code == 401
    assert admin.delete(f"/users/me/tokens/{token_id}").status_code == 404


def test_api_token_is_stored_hashed(admin, db):
    token = admin.api_token()
    stored = db.api_tokens.find_one({"user": admin.id})
    assert token not in json.dumps(stored, default=str)


def test_basic_auth_needs_the_token_owner_email(client, admin, make_actor):
    other = make_actor("Account Admin")
    token = admin.api_token()
    assert client.get("/v6/account-groups", headers=other.basic(token)).status_code == 401


def test_user_cannot_revoke_someone_elses_token(admin, make_actor):
    other = make_actor("Regular User", aid=admin.aid)
    token_id = admin.post("/users/me/tokens", json={"name": "mine"}).get_json()["id"]
    assert other.delete(f"/users/me/tokens/{token_id}").status_code == 404


def test_registration_is_closed_by_default(client):
    r = client.post("/auth/local/register", json={"username": "newbie", "email": "n@example.com",
                                                  "password": "long-enough-pw"})
    assert r.status_code == 403


def test_open_registration_creates_a_group_the_user_administers(cfg, client):
    cfg.ALLOW_REGISTRATION = True
    r = client.post("/auth/local/register", json={"username": "newbie", "email": "n@example.com",
                                                  "password": "long-enough-pw"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["user"]["role"]["name"] == "Account Admin"
    assert_no_secrets(r)
    again = client.post("/auth/local/register", json={"username": "newbie", "email": "n@example.com",
                                                      "password": "long-enough-pw"})
    assert again.status_code == 409


def test_admin_registration_adds_a_regular_user_to_the_group(admin, make_actor):
    r = admin.post("/auth/local/register", json={"username": "member1", "email": "m1@example.com",
                                                 "password": "long-enough-pw"})
    assert r.status_code == 200
    assert r.get_json()["user"]["role"]["name"] == "Regular User"
    regular = make_actor("Regular User", aid=admin.aid)
    r = regular.post("/auth/local/register", json={"username": "member2", "email": "m2@example.com",
                                                   "password": "long-enough-pw"})
    assert r.status_code == 403


def test_registration_validates_input(cfg, client):
    cfg.ALLOW_REGISTRATION = True
    r = client.post("/auth/local/register", json={"username": "x", "email": "not-an-email", "password": "short"})
    assert r.status_code == 422
    assert set(r.get_json()["errors"]) == {"username", "email", "password"}


def test_password_is_hashed_with_argon2(admin, db):
    stored = db.users.find_one({"_id": admin.id})
    assert stored["password"].startswith("$argon2id$")
    assert admin.password not in stored["password"]


def test_jwts_stay_interchangeable_with_flask_jwt_extended(app, client, admin):
    """Tokens issued before the switch to PyJWT keep working, and ours decode the old way."""
    with app.app_context():
        old = create_access_token(identity=str(admin.id), expires_delta=timedelta(minutes=5))
        claims = decode_token(issue_jwt(admin.user))
    assert claims["sub"] == str(admin.id) and claims["type"] == "access"
    assert claims["exp"] - claims["iat"] == app.config["JWT_EXPIRES_SECONDS"]
    assert client.get("/users/me", headers={"Authorization": f"Bearer {old}"}).status_code == 200
