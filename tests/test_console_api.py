"""What the console needs from the public API: the caller's permissions (/users/me) and the
widget editor's vocabulary (/v6/widget-options), each behind its guard and in OpenAPI."""
import pytest

from maiascore.accounts.permissions import PERMISSIONS, ROLE_IDS
from maiascore.dashboards import widgets

ALL_LABELS = [label for _, label, _ in PERMISSIONS]
SECRET_KEYS = ("password", "resetPasswordToken", "confirmationToken", "hash", "$argon2")


def test_me_names_the_role_and_permissions_of_an_admin(admin):
    r = admin.get("/users/me")
    assert r.status_code == 200
    me = r.get_json()
    assert me["id"] == admin.id and me["aid"] == admin.aid
    assert me["role"]["name"] == "Account Admin" and me["roleId"] == ROLE_IDS["Account Admin"]
    assert me["permissions"] == ALL_LABELS
    body = r.get_data(as_text=True)
    assert not [key for key in SECRET_KEYS if key in body]


def test_me_of_a_read_only_user_lists_only_what_it_may_do(admin, make_actor):
    reader = make_actor("Read Only", aid=admin.aid)
    me = reader.get("/users/me").get_json()
    assert me["role"]["name"] == "Read Only" and me["roleId"] == ROLE_IDS["Read Only"]
    assert me["permissions"] == ["View Scores", "View Trainings", "View Reports", "View Alerts"]
    # What the answer says is what the server enforces.
    assert reader.post("/v6/reports/create", json={"title": "Nope"}).status_code == 403
    assert reader.get("/v6/reports").status_code == 200


def test_me_answers_for_the_requested_account_group(make_actor, db):
    """A user admin of one group and Read Only in another is told the role of the group it asks about."""
    admin = make_actor("Account Admin")
    other = make_actor("Account Admin")
    db.users.update_one({"_id": admin.id}, {"$push": {"memberships": {"aid": other.aid,
                                                                        "roleId": ROLE_IDS["Read Only"]}}})
    home = admin.get(f"/users/me?aid={admin.aid}").get_json()
    away = admin.get(f"/users/me?aid={other.aid}").get_json()
    assert (home["aid"], home["role"]["name"], len(home["permissions"])) == (admin.aid, "Account Admin",
                                                                               len(ALL_LABELS))
    assert (away["aid"], away["role"]["name"], away["permissions"]) == (other.aid, "Read Only",
                                                               ["View Scores", "View Trainings", "View Reports", "View Alerts"])
    assert admin.get("/users/me").get_json()["aid"] == admin.aid
    r = other.get(f"/users/me?aid={admin.aid}")
    assert r.status_code == 400 and "not assigned" in r.get_json()["message"]


def test_me_without_credentials_is_refused(client):
    r = client.get("/users/me")
    assert r.status_code == 403 and r.get_json()["code"] == 403


def test_widget_options_state_what_clean_widgets_accepts(make_actor):
    reader = make_actor("Read Only")
    r = reader.get("/v6/widget-options")
    assert r.status_code == 200
    options = r.get_json()
    assert [t["name"] for t in options["widgetTypes"]] == list(widgets.WIDGET_TYPES)
    types = {t["name"]: t for t in options["widgetTypes"]}
    assert types["Time Series: Line"]["binned"] and not types["Pie Chart"]["binned"]
    assert types["Number"]["metricsFrom"] == "numberCards" and not types["Number"]["takesGroupBy"]
    assert types["Multi Metric Table"]["metricsFrom"] == "multiMetricColumns"
    assert types["Box and Whiskers"]["valueMetricsOnly"]
    assert options["measures"] == list(widgets.MEASURES) and options["percentileMeasure"] == "nth Percentile"
    assert options["visualModes"] == ["Full", "Half screen"]
    assert options["maxLimit"] == widgets.MAX_LIMIT

    sources = {s["name"]: s for s in options["dataSources"]}
    assert set(sources) == {"Score Reports", "Trainings", "Model Health"}
    reports = sources["Score Reports"]
    assert {m["name"]: m["isCount"] for m in reports["metrics"]} == {
        "Score": False, "Score Probability": False, "Score Confidence": False, "Report Count": True,
        "Failed Reports": True, "Processing Time": False}
    assert reports["groupBy"] == ["Score Version", "Type", "Status", "User", "Outcome"]
    filters = {f["property"]: f for f in reports["filters"]}
    assert filters["Outcome"]["values"] == ["good", "bad"]
    assert filters["Status"]["values"] and filters["Type"]["values"] is None
    assert (filters["User"]["kind"], filters["Score Version"]["kind"]) == ("userId", "version")
    assert sources["Trainings"]["groupBy"] == ["Score Version", "Status", "User"]


def _widget_for(kind, source, metric):
    if kind["metricsFrom"] == "numberCards":
        return {"type": kind["name"], "numberCards": [{"dataSource": source["name"], "metric": metric["name"]}]}
    if kind["metricsFrom"] == "multiMetricColumns":
        return {"type": kind["name"], "multiMetricColumns": [{"dataSource": source["name"], "metric": metric["name"]}]}
    return {"type": kind["name"], "dataSource": source["name"], "metric": metric["name"]}


def test_every_combination_the_options_offer_is_accepted_and_the_others_refused(admin):
    """The options are the editor's whole vocabulary: each offered combination saves, and a count
    metric in a value-only type (the one thing the options rule out) answers 400."""
    options = admin.get("/v6/widget-options").get_json()
    offered, refused = [], []
    for kind in options["widgetTypes"]:
        for source in options["dataSources"]:
            for metric in source["metrics"]:
                widget = _widget_for(kind, source, metric)
                if kind["takesGroupBy"] and kind["metricsFrom"] == "widget":
                    widget["groupBy"] = source["groupBy"][-1]
                for f in source["filters"]:
                    if f["values"]:
                        widget.setdefault("filters", {})[f["property"]] = f["values"][:1]
                (refused if kind["valueMetricsOnly"] and metric["isCount"] else offered).append(widget)
    size = 50  # several dashboards: DASHBOARD_MAX_WIDGETS bounds one
    for start in range(0, len(offered), size):
        part = offered[start:start + size]
        r = admin.post("/v6/reports/create", json={"title": f"Everything {start}", "widgets": part})
        assert r.status_code == 200, r.get_json()
        assert len(r.get_json()[0]["widgets"]) == len(part)
    for widget in refused:
        r = admin.post("/v6/reports/create", json={"title": "Refused", "widgets": [widget]})
        assert r.status_code == 400, widget


def test_widget_options_need_credentials_and_view_reports(client, make_actor, db):
    r = client.get("/v6/widget-options")
    assert r.status_code == 401 and r.get_json()["code"] == 401
    assert "WWW-Authenticate" in r.headers
    # Every built-in role views reports; a membership whose role grants nothing is refused.
    nobody = make_actor("Read Only")
    db.users.update_one({"_id": nobody.id}, {"$set": {"memberships.0.roleId": 99}})
    r = nobody.get("/v6/widget-options")
    assert r.status_code == 403 and "View Reports" in r.get_json()["message"]
    assert nobody.get("/users/me").get_json()["permissions"] == []


@pytest.mark.parametrize("path, schema", [("/v6/widget-options", "WidgetOptions"), ("/users/me", "Me")])
def test_both_are_documented_with_schemas(client, path, schema):
    spec = client.get("/openapi.json").get_json()
    get = spec["paths"][path]["get"]
    ref = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith(f"/{schema}")
    assert {"401", "403"} <= set(get["responses"]) and get["security"]
    assert spec["components"]["schemas"][schema]["properties"]
