"""Account groups, roles, permissions, user management and the aid context."""
from maiascore.accounts.service import create_account_group
from maiascore.cli import cli


def test_account_groups_lists_memberships_with_current_and_default(admin, db):
    second = create_account_group("Second")["_id"]
    db.users.update_one({"_id": admin.id}, {"$push": {"memberships": {"aid": second, "roleId": 3}}})
    r = admin.get(f"/v6/account-groups?aid={second}")
    assert r.status_code == 200
    groups = {g["aid"]: g for g in r.get_json()["accountGroups"]}
    assert groups[second]["current"] == 1 and groups[second]["default"] == 0
    assert groups[admin.aid]["current"] == 0 and groups[admin.aid]["default"] == 1


def test_aid_of_a_group_the_user_is_not_in_answers_400(admin, make_actor):
    other = make_actor("Account Admin")
    r = admin.get(f"/v6/account-groups?aid={other.aid}")
    assert r.status_code == 400
    assert str(other.aid) in r.get_json()["message"]
    assert admin.get("/v6/account-groups?aid=abc").status_code == 400


def test_role_in_the_named_group_decides_permissions(admin, db, make_actor):
    second = create_account_group("Second")["_id"]
    db.users.update_one({"_id": admin.id}, {"$push": {"memberships": {"aid": second, "roleId": 3}}})
    assert admin.get("/v6/roles").status_code == 200
    assert admin.get(f"/v6/roles?aid={second}").status_code == 403


def test_roles_and_permissions_need_manage_users(admin, make_actor):
    roles = admin.get("/v6/roles").get_json()["roles"]
    assert {r["name"] for r in roles} == {"Account Admin", "Regular User", "Read Only"}
    regular = next(r for r in roles if r["name"] == "Regular User")
    assert {p["label"] for p in regular["permissions"]} == {
        "View Scores", "Create Scores", "View Trainings", "View Reports", "Edit Reports", "View Alerts"}
    perms = admin.get("/v6/permissions").get_json()["permissions"]
    assert {"View Scores", "Create Scores", "View Trainings", "Manage Trainings", "View Reports", "Edit Reports",
            "Edit reports for all users in account group", "Manage Users"} <= {p["label"] for p in perms}
    for role in ("Regular User", "Read Only"):
        actor = make_actor(role, aid=admin.aid)
        assert actor.get("/v6/roles").status_code == 403
        assert actor.get("/v6/permissions").status_code == 403
        assert actor.get("/v6/users").status_code == 403


def test_user_management_lifecycle(admin, client):
    r = admin.post("/v6/users/new", json={"name": "analyst", "email": "analyst@example.com",
                                          "password": "analyst-password", "role": "Read Only"})
    assert r.status_code == 201, r.get_json()
    uid = r.get_json()["users"][0]["uid"]
    assert "password" not in r.get_data(as_text=True)

    listed = admin.get("/v6/users").get_json()["users"]
    assert {u["uid"] for u in listed} == {admin.id, uid}

    login = client.post("/auth/local", json={"identifier": "analyst", "password": "analyst-password"})
    assert login.get_json()["user"]["role"]["name"] == "Read Only"

    r = admin.post(f"/v6/users/{uid}/update", json={"role": "Regular User"})
    assert r.status_code == 200
    assert r.get_json()["users"][0]["accountGroupRoles"][0]["roles"][0]["name"] == "Regular User"

    r = admin.post(f"/v6/users/{uid}/update", json={"blocked": True})
    assert r.get_json()["users"][0]["blocked"] is True
    assert client.post("/auth/local", json={"identifier": "analyst",
                                            "password": "analyst-password"}).status_code == 401

    assert admin.post(f"/v6/users/{uid}/delete").status_code == 204
    assert admin.get(f"/v6/users/{uid}").status_code == 404


def test_user_management_rejects_bad_input(admin):
    r = admin.post("/v6/users/new", json={"name": "analyst", "email": "bad", "password": "x"})
    assert r.status_code == 400  # v6 answers validation errors with 400
    assert {"email", "password"} <= set(r.get_json()["errors"])
    r = admin.post("/v6/users/new", json={"name": "analyst", "email": "a@example.com",
                                          "password": "long-enough", "role": "Overlord"})
    assert r.status_code == 400 and "Overlord" in r.get_json()["message"]


def test_users_of_another_group_are_not_found(admin, make_actor):
    other = make_actor("Account Admin")
    assert admin.get(f"/v6/users/{other.id}").status_code == 404
    assert admin.post(f"/v6/users/{other.id}/update", json={"blocked": True}).status_code == 404
    assert admin.post(f"/v6/users/{other.id}/delete").status_code == 404


def test_cli_creates_groups_and_users(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(cli, args=["create-group", "Acme"])
    assert result.exit_code == 0, result.output
    aid = int(result.output.strip().rsplit(" ", 1)[1])
    result = runner.invoke(cli, args=["create-user", "--email", "ops@acme.test", "--password", "ops-password",
                                 "--aid", str(aid), "--role", "Read Only"])
    assert result.exit_code == 0, result.output
    r = client.post("/auth/local", json={"identifier": "ops@acme.test", "password": "ops-password"})
    assert r.status_code == 200 and r.get_json()["user"]["role"]["name"] == "Read Only"


def test_ensure_admin_is_idempotent(app, monkeypatch):
    monkeypatch.setattr(app.config["MAIASCORE"], "MAIASCORE_ADMIN_EMAIL", "boss@example.com")
    monkeypatch.setattr(app.config["MAIASCORE"], "MAIASCORE_ADMIN_PASSWORD", "boss-password")
    runner = app.test_cli_runner()
    assert "created" in runner.invoke(cli, args=["ensure-admin"]).output
    assert "already there" in runner.invoke(cli, args=["ensure-admin"]).output
