"""Issue 15, accounts: one account per login, no cross-tenant existence oracle, a group keeps an admin,
credential changes end logins, strict user updates, per-address login throttle behind trusted proxies."""
from datetime import timedelta

from maiascore.accounts.service import create_account_group, create_user
from maiascore.app import create_app
from maiascore.clock import utcnow

USED = {"code": 409, "message": "This email or username cannot be used"}


def login(client, identifier, password, address="127.0.0.1", headers=None):
    return client.post("/auth/local", json={"identifier": identifier, "password": password},
                       environ_base={"REMOTE_ADDR": address}, headers=headers or {})


def new_user(admin, name, email, role="Regular User", password="long-enough-pw"):
    return admin.post("/v6/users/new", json={"name": name, "email": email, "password": password, "role": role})


# --- Cross-tenant login denial -------------------------------------------------------------------

def test_a_username_cannot_look_like_an_email(cfg, admin):
    r = new_user(admin, "newhire@example.com", "decoy@example.com")
    assert r.status_code == 400 and "name" in r.get_json()["errors"]
    r = admin.post("/auth/local/register", json={"username": "newhire@example.com", "email": "d2@example.com",
                                                 "password": "long-enough-pw"})
    assert r.status_code == 422 and "username" in r.get_json()["errors"]
    member = new_user(admin, "member1", "member1@example.com").get_json()["users"][0]["uid"]
    r = admin.post(f"/v6/users/{member}/update", json={"name": "newhire@example.com"})
    assert r.status_code == 400


def test_an_email_login_reaches_the_email_owner_even_past_an_older_lookalike_username(client, admin, make_actor):
    """A username made before usernames refused '@' must not shadow the real owner's email login."""
    squatter_group = make_actor("Account Admin")
    create_user("newhire@example.com", "squatter@example.com", "squatter-password",
                [{"aid": squatter_group.aid, "roleId": 2}])
    assert new_user(admin, "newhire", "newhire@example.com", password="newhire-password").status_code == 201
    r = login(client, "newhire@example.com", "newhire-password")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["user"]["email"] == "newhire@example.com"
    # The squatter keeps their own email login; the lookalike never reaches the owner's account.
    assert login(client, "squatter@example.com", "squatter-password").status_code == 200
    assert login(client, "newhire@example.com", "squatter-password").status_code == 400


# --- Existence leak across tenants -----------------------------------------------------------------

def test_taken_identifiers_answer_one_409_whatever_the_cause_and_the_group(admin, make_actor):
    other = make_actor("Regular User")  # in another group
    taken_email = new_user(admin, "fresh1", other.email)
    taken_name = new_user(admin, other.user["username"], "fresh1@example.com")
    both = new_user(admin, other.user["username"], other.email)
    assert taken_email.get_json() == taken_name.get_json() == both.get_json() == USED
    member = new_user(admin, "member2", "member2@example.com").get_json()["users"][0]["uid"]
    renamed = admin.post(f"/v6/users/{member}/update", json={"name": other.user["username"]})
    assert renamed.status_code == 409 and renamed.get_json() == USED


def test_user_creation_is_budgeted_per_group(cfg, admin, make_actor):
    cfg.USER_CREATIONS_PER_HOUR_PER_GROUP = 3
    other = make_actor("Regular User")
    for n in range(3):
        assert new_user(admin, f"probe{n}", other.email).status_code == 409
    r = new_user(admin, "probe9", "unused@example.com")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    r = admin.post("/auth/local/register", json={"username": "probe10", "email": "u2@example.com",
                                                 "password": "long-enough-pw"})
    assert r.status_code == 429
    another_admin = make_actor("Account Admin")
    assert new_user(another_admin, "probe11", "u3@example.com").status_code == 201


# --- The last admin can leave -----------------------------------------------------------------------

def test_the_last_admin_cannot_demote_block_or_remove_themselves(admin):
    for change in ({"role": "Regular User"}, {"role": 3}, {"blocked": True}):
        r = admin.post(f"/v6/users/{admin.id}/update", json=change)
        assert r.status_code == 409, change
        assert "at least one Account Admin" in r.get_json()["message"]
    r = admin.post(f"/v6/users/{admin.id}/delete")
    assert r.status_code == 409
    assert admin.get("/v6/roles").status_code == 200  # still an admin


def test_an_admin_cannot_remove_the_last_other_admin(admin, make_actor, db):
    second = make_actor("Account Admin", aid=admin.aid)
    # A blocked admin manages nothing: with the second admin blocked, the first is the last one.
    assert admin.post(f"/v6/users/{second.id}/update", json={"blocked": True}).status_code == 200
    assert second.post(f"/v6/users/{admin.id}/update", json={"role": "Read Only"}).status_code == 401
    db.users.update_one({"_id": second.id}, {"$set": {"blocked": False}})
    # Two active admins: one may step down, then the other is the last and stays.
    assert admin.post(f"/v6/users/{admin.id}/update", json={"role": "Regular User"}).status_code == 200
    second_jwt = login(admin.client, second.email, second.password).get_json()["jwt"]
    headers = {"Authorization": f"Bearer {second_jwt}"}
    assert admin.client.post(f"/v6/users/{second.id}/delete", headers=headers).status_code == 409
    assert admin.client.post(f"/v6/users/{second.id}/update", headers=headers,
                             json={"role": "Read Only"}).status_code == 409
    # Demoting or removing a non-admin is unaffected.
    assert admin.client.post(f"/v6/users/{admin.id}/delete", headers=headers).status_code == 204


# --- Credential changes end existing logins ---------------------------------------------------------

def test_a_new_password_ends_jwts_and_api_tokens_at_once(client, admin, make_actor):
    member = make_actor("Regular User", aid=admin.aid)
    token = member.api_token()
    assert member.get("/users/me").status_code == 200
    r = admin.post(f"/v6/users/{member.id}/update", json={"password": "brand-new-password"})
    assert r.status_code == 200
    assert member.get("/users/me").status_code == 401
    assert client.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    fresh = login(client, member.email, "brand-new-password").get_json()["jwt"]
    assert client.get("/users/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_blocking_ends_jwts_even_after_unblocking(client, admin, make_actor):
    member = make_actor("Regular User", aid=admin.aid)
    assert admin.post(f"/v6/users/{member.id}/update", json={"blocked": True}).status_code == 200
    assert admin.post(f"/v6/users/{member.id}/update", json={"blocked": False}).status_code == 200
    assert member.get("/users/me").status_code == 401
    assert login(client, member.email, member.password).status_code == 200


def test_removal_from_a_group_ends_jwts_in_every_process(cfg, client, admin, make_actor, db):
    member = make_actor("Regular User", aid=admin.aid)
    other_group = create_account_group("Elsewhere")["_id"]
    db.users.update_one({"_id": member.id}, {"$push": {"memberships": {"aid": other_group, "roleId": 2}}})
    other_process = create_app(cfg).test_client()  # a second app: nothing shared in memory
    assert other_process.get("/users/me", headers=member.headers).status_code == 200
    assert admin.post(f"/v6/users/{member.id}/delete").status_code == 204
    assert other_process.get("/users/me", headers=member.headers).status_code == 401
    assert client.get("/users/me", headers=member.headers).status_code == 401
    assert login(client, member.email, member.password).status_code == 200  # still in "Elsewhere"


def test_api_token_last_use_is_written_at_most_once_a_minute(cfg, client, admin, db):
    token = admin.api_token()
    bearer = {"Authorization": f"Bearer {token}"}
    assert db.api_tokens.find_one({"user": admin.id})["last_used_at"] is None
    assert client.get("/users/me", headers=bearer).status_code == 200
    first = db.api_tokens.find_one({"user": admin.id})["last_used_at"]
    assert first is not None
    assert client.get("/users/me", headers=bearer).status_code == 200
    assert db.api_tokens.find_one({"user": admin.id})["last_used_at"] == first
    listed = admin.get("/users/me/tokens").get_json()[0]
    assert listed["last_used_at"] is not None
    stale = utcnow() - timedelta(minutes=2)
    cfg.AUTH_CACHE_SECONDS = 0  # a minute passing also ends the process's cached login (30 s)
    db.api_tokens.update_one({"user": admin.id}, {"$set": {"last_used_at": stale}})
    assert client.get("/users/me", headers=bearer).status_code == 200
    assert db.api_tokens.find_one({"user": admin.id})["last_used_at"] > stale + timedelta(minutes=1)


# --- Strict booleans and roles ------------------------------------------------------------------------

def test_user_updates_accept_only_real_booleans_and_known_roles(admin, make_actor, db):
    member = make_actor("Read Only", aid=admin.aid)
    for change in ({"blocked": "yes"}, {"blocked": 1}, {"blocked": "on"}, {"role": True}, {"role": [1]},
                   {"role": None}, {"role": 7}, {"role": "Overlord"}):
        r = admin.post(f"/v6/users/{member.id}/update", json=change)
        assert r.status_code == 400, (change, r.get_json())
        assert set(r.get_json()) >= {"code", "message"}
    stored = db.users.find_one({"_id": member.id})
    assert stored["blocked"] is False and stored["memberships"][0]["roleId"] == 3
    assert new_user(admin, "roletrue", "roletrue@example.com", role=True).status_code == 400
    r = admin.post(f"/v6/users/{member.id}/update", data="<item><blocked>yes</blocked></item>",
                   content_type="application/xml")
    assert r.status_code == 400  # text bodies may say "true" or "false", nothing looser


# --- Per-address login throttle and trusted proxies ------------------------------------------------

def test_successful_logins_are_throttled_per_address(cfg, client, admin):
    cfg.LOGINS_PER_MINUTE_PER_ADDRESS = 3
    for _ in range(3):
        assert login(client, admin.email, admin.password, "10.0.0.1").status_code == 200
    r = login(client, admin.email, admin.password, "10.0.0.1")
    assert r.status_code == 429 and r.headers["Retry-After"] == "60"
    # Without TRUSTED_PROXIES a client cannot pick its address with X-Forwarded-For.
    spoofed = login(client, admin.email, admin.password, "10.0.0.1", headers={"X-Forwarded-For": "10.9.9.9"})
    assert spoofed.status_code == 429
    assert login(client, admin.email, admin.password, "10.0.0.2").status_code == 200


def test_behind_trusted_proxies_the_forwarded_address_is_throttled(cfg, admin):
    cfg.LOGINS_PER_MINUTE_PER_ADDRESS = 2
    cfg.TRUSTED_PROXIES = 1
    client = create_app(cfg).test_client()
    proxy = "10.0.0.254"
    for _ in range(2):
        assert login(client, admin.email, admin.password, proxy,
                     headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 200
    assert login(client, admin.email, admin.password, proxy,
                 headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    # Another client behind the same proxy has its own budget.
    assert login(client, admin.email, admin.password, proxy,
                 headers={"X-Forwarded-For": "203.0.113.8"}).status_code == 200


def test_renames_count_against_the_groups_creation_budget(cfg, admin, make_actor):
    """Renaming a member to someone else's username is a probe as good as a creation."""
    cfg.USER_CREATIONS_PER_HOUR_PER_GROUP = 3
    others = [make_actor("Regular User") for _ in range(3)]
    member = new_user(admin, "renamed0", "renamed0@example.com").get_json()["users"][0]["uid"]  # spends one
    for other in others[:2]:
        r = admin.post(f"/v6/users/{member}/update", json={"name": other.user["username"]})
        assert r.status_code == 409
    r = admin.post(f"/v6/users/{member}/update", json={"name": others[2].user["username"]})
    assert r.status_code == 429 and "user creations" in r.get_json()["message"] and r.headers["Retry-After"]
    assert new_user(admin, "fresh9", "fresh9@example.com").status_code == 429  # one budget for both
    # A rename to the name the member already has is no probe; other changes are not counted.
    assert admin.post(f"/v6/users/{member}/update", json={"name": "renamed0", "role": "Read Only"}).status_code == 200


# --- Failed logins lock an (identifier, address) pair, not the account ---------------------------------

def test_failed_logins_from_one_address_do_not_lock_the_owner_out_elsewhere(cfg, client, admin):
    for _ in range(10):
        assert login(client, admin.email, "wrong-password", "198.51.100.66").status_code == 400
    r = login(client, admin.email, admin.password, "198.51.100.66")
    assert r.status_code == 429 and r.headers["Retry-After"]
    assert login(client, admin.email, admin.password, "203.0.113.20").status_code == 200


def test_behind_a_trusted_proxy_the_failed_logins_count_per_forwarded_address(cfg, admin):
    cfg.TRUSTED_PROXIES = 1
    client = create_app(cfg).test_client()
    proxy = "10.0.0.254"
    for _ in range(10):
        assert login(client, admin.email, "wrong-password", proxy,
                     headers={"X-Forwarded-For": "198.51.100.66"}).status_code == 400
    assert login(client, admin.email, admin.password, proxy,
                 headers={"X-Forwarded-For": "198.51.100.66"}).status_code == 429
    assert login(client, admin.email, admin.password, proxy,
                 headers={"X-Forwarded-For": "203.0.113.20"}).status_code == 200


def test_an_identifier_has_a_higher_ceiling_across_addresses(cfg, client, admin):
    cfg.LOGIN_FAILURES_PER_MINUTE_PER_IDENTIFIER = 4
    for n in range(4):
        assert login(client, admin.email, "wrong-password", f"198.51.100.{n}").status_code == 400
    r = login(client, admin.email, admin.password, "203.0.113.20")
    assert r.status_code == 429 and r.headers["Retry-After"]
