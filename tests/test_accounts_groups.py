"""Users in several account groups: one group's admin cannot take over, block or lock another group's
admin; memberships are given through TE v6 ``accountGroupRoles`` or the operator CLI."""
from click.testing import CliRunner

from maiascore.cli import cli

CREDENTIALS = "an Account Admin of every account group the user belongs to"


def login(client, identifier, password):
    return client.post("/auth/local", json={"identifier": identifier, "password": password})


def give_role(admin, user_id, aid, role_id, context_aid=None):
    return admin.post(f"/v6/users/{user_id}/update?aid={context_aid or admin.aid}",
                      json={"accountGroupRoles": [{"accountGroupId": aid, "roleIds": [role_id]}]})


def shared_admin(make_actor, db):
    """B's only admin, also a Read Only member of A; A's admin attacks."""
    a_admin = make_actor("Account Admin")
    b_admin = make_actor("Account Admin")
    db.users.update_one({"_id": b_admin.id}, {"$push": {"memberships": {"aid": a_admin.aid, "roleId": 3}}})
    return a_admin, b_admin


def test_one_groups_admin_cannot_change_the_credentials_of_a_user_in_another_group(client, make_actor, db):
    a_admin, b_admin = shared_admin(make_actor, db)
    stored = db.users.find_one({"_id": b_admin.id})
    for change in ({"password": "taken-over-password"}, {"blocked": True}, {"name": "renamed-victim"}):
        r = a_admin.post(f"/v6/users/{b_admin.id}/update", json=change)
        assert r.status_code == 403, (change, r.get_json())
        assert CREDENTIALS in r.get_json()["message"]
    after = db.users.find_one({"_id": b_admin.id})
    assert (after["password"], after["blocked"], after["username"]) == (
        stored["password"], stored["blocked"], stored["username"])
    assert login(client, b_admin.email, "taken-over-password").status_code == 400
    assert b_admin.get("/v6/roles").status_code == 200  # B still has its active admin, logged in
    # What A's admin may do: the user's role in A, and removing them from A; never touching B.
    assert a_admin.post(f"/v6/users/{b_admin.id}/update", json={"role": "Regular User"}).status_code == 200
    assert give_role(a_admin, b_admin.id, b_admin.aid, 3).status_code == 403
    assert a_admin.post(f"/v6/users/{b_admin.id}/delete").status_code == 204
    after = db.users.find_one({"_id": b_admin.id})
    assert after["memberships"] == [{"aid": b_admin.aid, "roleId": 1}] and not after["blocked"]
    assert login(client, b_admin.email, b_admin.password).status_code == 200


def test_an_admin_of_every_group_the_user_is_in_may_change_their_credentials(client, make_actor, db):
    a_admin, b_admin = shared_admin(make_actor, db)
    db.users.update_one({"_id": a_admin.id}, {"$push": {"memberships": {"aid": b_admin.aid, "roleId": 1}}})
    r = a_admin.post(f"/v6/users/{b_admin.id}/update", json={"name": "renamed-by-both"})
    assert r.status_code == 200 and r.get_json()["users"][0]["name"] == "renamed-by-both"
    assert a_admin.post(f"/v6/users/{b_admin.id}/update", json={"password": "set-by-admin-of-both"}).status_code == 200
    assert login(client, b_admin.email, "set-by-admin-of-both").status_code == 200
    # B keeps a_admin as an active admin, so blocking B's first admin is allowed.
    assert a_admin.post(f"/v6/users/{b_admin.id}/update", json={"blocked": True}).status_code == 200


def test_blocking_yourself_from_one_group_never_leaves_another_without_an_active_admin(make_actor, db):
    a_admin = make_actor("Account Admin")
    shared = make_actor("Account Admin", aid=a_admin.aid)  # A has two admins
    g_admin = make_actor("Account Admin")  # G's admin, about to hand G over to shared
    db.users.update_one({"_id": shared.id}, {"$push": {"memberships": {"aid": g_admin.aid, "roleId": 1}}})
    assert g_admin.post(f"/v6/users/{g_admin.id}/delete").status_code == 204  # shared is G's only admin now
    r = shared.post(f"/v6/users/{shared.id}/update?aid={a_admin.aid}", json={"blocked": True})
    assert r.status_code == 409 and "at least one Account Admin" in r.get_json()["message"]
    assert str(g_admin.aid) in r.get_json()["message"]
    assert db.users.find_one({"_id": shared.id})["blocked"] is False


def test_account_group_roles_add_a_member_of_another_group_only_where_the_caller_is_admin(cfg, make_actor, db):
    cfg.AUTH_CACHE_SECONDS = 0  # memberships are edited in the database below, behind the API's back
    a_admin = make_actor("Account Admin")
    b_admin = make_actor("Account Admin")
    member = make_actor("Regular User", aid=a_admin.aid)
    r = give_role(a_admin, member.id, b_admin.aid, 3)
    assert r.status_code == 403 and str(b_admin.aid) in r.get_json()["message"]
    # An admin of both groups adds A's member to B as Read Only.
    db.users.update_one({"_id": a_admin.id}, {"$push": {"memberships": {"aid": b_admin.aid, "roleId": 1}}})
    r = give_role(a_admin, member.id, b_admin.aid, 3)
    assert r.status_code == 200, r.get_json()
    roles = {entry["accountGroup"]["aid"]: entry["roles"][0]["roleId"]
             for entry in r.get_json()["users"][0]["accountGroupRoles"]}
    assert roles == {a_admin.aid: 2, b_admin.aid: 3}
    assert member.get(f"/users/me?aid={b_admin.aid}").get_json()["roleId"] == 3
    assert b_admin.get(f"/v6/users/{member.id}").status_code == 200
    for bad in ([{"accountGroupId": b_admin.aid, "roleIds": []}],
                [{"accountGroupId": b_admin.aid, "roleIds": [1, 2]}],
                [{"accountGroupId": b_admin.aid, "roleIds": [99]}],
                [{"accountGroupId": "x", "roleIds": [1]}],
                [{"accountGroupId": b_admin.aid}]):
        r = a_admin.post(f"/v6/users/{member.id}/update", json={"accountGroupRoles": bad})
        assert r.status_code == 400, (bad, r.get_json())


def test_the_operator_cli_gives_a_user_a_role_in_another_group(cfg, db, make_actor):
    a_admin = make_actor("Account Admin")
    b_admin = make_actor("Account Admin")
    result = CliRunner().invoke(cli, ["set-role", "--user", a_admin.email, "--aid", str(b_admin.aid),
                                      "--role", "Read Only"])
    assert result.exit_code == 0, result.output
    assert {m["aid"]: m["roleId"] for m in db.users.find_one({"_id": a_admin.id})["memberships"]} == {
        a_admin.aid: 1, b_admin.aid: 3}
    result = CliRunner().invoke(cli, ["set-role", "--user", b_admin.email, "--aid", str(b_admin.aid),
                                      "--role", "Read Only"])
    assert result.exit_code == 1 and "at least one Account Admin" in result.output
    result = CliRunner().invoke(cli, ["set-role", "--user", a_admin.email, "--aid", "424242",
                                      "--role", "Read Only"])
    assert result.exit_code == 1 and "424242" in result.output
