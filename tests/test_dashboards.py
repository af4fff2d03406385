"""/v6/reports: creation, widgets, built-ins, defaults, permissions, formats."""
import base64
import json
import re

import pytest
import xmltodict
from pymongo.errors import DuplicateKeyError

from maiascore.dashboards.builtin import BUILTIN_REPORTS, ensure_builtin_reports
from maiascore.dashboards.widgets import clean_widgets

SCORE = {"dataSource": "Score Reports", "metric": "Score", "measure": {"type": "Mean"}}


def create(actor, title="Mine", widgets=None, status=200, **extra):
    body = {"title": title, **extra}
    if widgets is not None:
        body["widgets"] = widgets
    r = actor.post("/v6/reports/create", json=body)
    assert r.status_code == status, r.get_json()
    return r.get_json()[0] if status == 200 else r.get_json()


def line(**extra):
    return {"type": "Time Series: Line", **SCORE, **extra}


# --- the seed's example ------------------------------------------------------------------


def test_seed_curl_with_api_token_returns_the_created_report(admin, client):
    token = admin.api_token()
    basic = base64.b64encode(f"{admin.email}:{token}".encode()).decode()
    r = client.post("/v6/reports/create", data='{\n    "title": "HTTP Server Widgets"\n  }',
                    headers={"Content-Type": "application/json", "Accept": "application/json",
                             "Authorization": f"Basic {basic}"})
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "application/json"
    [report] = r.get_json()
    assert report["title"] == "HTTP Server Widgets"
    assert isinstance(report["reportId"], str) and report["reportId"].isdigit()
    assert report["isBuiltIn"] is False
    assert report["accountId"] == admin.aid
    assert report["createdBy"] == admin.id and report["modifiedBy"] == admin.id
    assert report["isDefaultForUser"] is False and report["isDefaultForAccount"] is False
    assert report["widgets"] == []
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", report["modifiedDate"])
    assert {"rel": "self", "href": f"http://localhost/v6/reports/{report['reportId']}"} in report["apiLinks"]
    for header in ("X-Organization-Rate-Limit-Limit", "X-Organization-Rate-Limit-Remaining",
                   "X-Organization-Rate-Limit-Reset"):
        assert r.headers[header].isdigit()
    # It is stored: the detail answers the same report.
    detail = admin.get(f"/v6/reports/{report['reportId']}").get_json()
    assert detail["title"] == "HTTP Server Widgets" and detail["reportId"] == report["reportId"]


def test_json_suffix_and_form_content_type_json_text(admin):
    r = admin.post("/v6/reports/create.json", data=json.dumps({"title": "Suffixed"}),
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.get_json()
    report_id = r.get_json()[0]["reportId"]
    assert admin.get(f"/v6/reports/{report_id}.json").get_json()["title"] == "Suffixed"


# --- widgets: ids and validation ----------------------------------------------------------


def test_widget_ids_given_kept_and_missing_generated_unique(admin):
    widgets = [line(id="abc12", title="Given")] + [line() for _ in range(6)]
    widgets.append({"type": "Number", "numberCards": [{"dataSource": "Score Reports", "metric": "Report Count"},
                                                      {"id": "Card1", **SCORE}]})
    report = create(admin, widgets=widgets)
    ids = [w["id"] for w in report["widgets"]]
    assert ids[0] == "abc12"
    card_ids = [c["id"] for c in report["widgets"][-1]["numberCards"]]
    assert card_ids[1] == "Card1"
    everything = ids + card_ids
    assert all(re.fullmatch(r"[A-Za-z0-9]{5}", i) for i in everything)
    assert len(set(everything)) == len(everything)
    # Each widget links to its data, absolutely.
    for widget in report["widgets"]:
        assert widget["apiLink"] == f"http://localhost/v6/reports/{report['reportId']}/{widget['id']}"
        assert {"rel": "data", "href": widget["apiLink"]} in report["apiLinks"]


@pytest.mark.parametrize("bad_id", ["abcd", "abcdef", "ab-12", "ab cd", "ábcde"])
def test_widget_id_must_be_five_alphanumerics_message_names_the_widget(admin, bad_id):
    body = create(admin, widgets=[line(id="first"), line(id=bad_id, title="Second one")], status=400)
    assert body["code"] == 400
    assert "Widget 2" in body["message"] and repr(bad_id) in body["message"]
    assert "5 letters or digits" in body["message"]


def test_duplicate_widget_ids_answer_400_naming_the_widget(admin):
    body = create(admin, widgets=[line(id="dup01"), line(id="other"), line(id="dup01")], status=400)
    assert "Widget 3 (dup01)" in body["message"] and "unique" in body["message"]
    # Cards share the report's id namespace.
    body = create(admin, widgets=[line(id="same1"), {"type": "Number", "numberCards": [{"id": "same1", **SCORE}]}],
                  status=400)
    assert "Widget 2" in body["message"] and "'same1'" in body["message"]


@pytest.mark.parametrize("widget, fragment", [
    ({"type": "Map", **SCORE}, "no geography"),
    ({"type": "Gauge", **SCORE}, "'Time Series: Line'"),
    ({"type": "Table", "dataSource": "Agents", "metric": "Score"}, "'Score Reports', 'Trainings'"),
    ({"type": "Table", "dataSource": "Trainings", "metric": "Score"}, "'Accuracy', 'Precision', 'AUC'"),
    ({"type": "Table"}, "dataSource is required"),
    ({"type": "Table", **SCORE, "groupBy": "Agents"}, "'Score Version', 'Type', 'Status', 'User', 'Outcome'"),
    ({"type": "Table", "dataSource": "Trainings", "metric": "AUC", "groupBy": "Type"},
     "'Score Version', 'Status', 'User'"),
    ({"type": "Table", "dataSource": "Trainings", "metric": "AUC", "groupBy": "Outcome"},
     "'Score Version', 'Status', 'User'"),
    ({"type": "Table", **SCORE, "measure": {"type": "Average"}}, "'nth Percentile', 'Standard Deviation'"),
    ({"type": "Table", **SCORE, "measure": {"type": "nth Percentile"}}, "needs percentileValue"),
    ({"type": "Table", **SCORE, "measure": {"type": "nth Percentile", "percentileValue": 101}}, "at most 100"),
    ({"type": "Table", **SCORE, "measure": {"type": "Mean", "percentileValue": 90}}, "nth Percentile' only"),
    ({"type": "Pie Chart", "dataSource": "Score Reports", "metric": "Report Count", "measure": {"type": "Mean"}},
     "is a count and takes no measure"),
    ({"type": "Box and Whiskers", "dataSource": "Score Reports", "metric": "Failed Reports"},
     "'Score', 'Score Probability'"),
    ({"type": "Table", **SCORE, "filters": {"Status": ["done"]}}, "'queued', 'processed', 'failed'"),
    ({"type": "Table", "dataSource": "Trainings", "metric": "AUC", "filters": {"Status": ["processed"]}},
     "'succeeded'"),
    ({"type": "Table", **SCORE, "filters": {"User": ["bob"]}}, "user ids"),
    ({"type": "Table", **SCORE, "filters": {"Country": ["FR"]}}, "'Score Version', 'Type'"),
    ({"type": "Table", **SCORE, "numberCards": [SCORE]}, "numberCards belong to Number"),
    ({"type": "Multi Metric Table"}, "needs multiMetricColumns"),
    ({"type": "Multi Metric Table", **SCORE, "multiMetricColumns": [SCORE]}, "from multiMetricColumns"),
    ({"type": "Multi Metric Table", "multiMetricColumns": [{"dataSource": "Trainings", "metric": "Score"}]},
     "multiMetricColumns[0]"),
    ({"type": "Number", **SCORE, "groupBy": "Status"}, "takes no groupBy"),
    ({"type": "Number", "numberCards": [{"dataSource": "Score Reports", "metric": "Nope"}]}, "numberCards[0]"),
    ({"type": "Table", **SCORE, "visualMode": "Tiny"}, "'Full', 'Half screen'"),
    ({"type": "Table", **SCORE, "sortBy": "Size"}, "'Value', 'Alphabetical'"),
    ({"type": "Table", **SCORE, "sortDirection": "Up"}, "'Ascending', 'Descending'"),
    ({"type": "Table", **SCORE, "limit": 0}, "limit must be between 1"),
    ({"type": "Table", **SCORE, "fixedTimespan": 94 * 86400}, "fixedTimespan"),
])
def test_invalid_widgets_answer_400_naming_widget_and_allowed_values(admin, widget, fragment):
    body = create(admin, widgets=[widget], status=400)
    assert body["code"] == 400
    assert body["message"].startswith("Widget 1"), body
    assert fragment in body["message"], body["message"]


def test_schema_errors_are_400_with_detail(admin):
    body = create(admin, widgets=[{"type": "Table", **SCORE, "limit": "many"}], status=400)
    assert body["errors"]["widgets"]["0"]["limit"]
    r = admin.post("/v6/reports/create", json={"widgets": []})
    assert r.status_code == 400 and "title" in r.get_json()["errors"]
    r = admin.post("/v6/reports/create", json={"title": "x", "colour": "red"})
    assert r.status_code == 400 and "colour" in r.get_json()["errors"]
    r = admin.post("/v6/reports/create", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.get_json()["code"] == 400


def test_every_widget_type_is_accepted_and_stored(admin):
    widgets = [
        {"type": "Table", **SCORE, "groupBy": "User", "sortBy": "Value", "sortDirection": "Ascending", "limit": 5},
        {"type": "Multi Metric Table", "groupBy": "Score Version",
         "multiMetricColumns": [SCORE, {"dataSource": "Score Reports", "metric": "Report Count"}]},
        {"type": "Number", "numberCards": [{"description": "Count", "dataSource": "Score Reports",
                                            "metric": "Report Count", "fixedTimespan": "3600"}]},
        {"type": "Pie Chart", "dataSource": "Score Reports", "metric": "Report Count", "groupBy": "Outcome"},
        {"type": "Time Series: Line", **SCORE, "visualMode": "Half screen"},
        {"type": "Time Series: Stacked Area", "dataSource": "Trainings", "metric": "AUC",
         "measure": {"type": "nth Percentile", "percentileValue": 90}, "groupBy": "User"},
        {"type": "Box and Whiskers", "dataSource": "Trainings", "metric": "Training Duration",
         "measure": {"type": "Standard Deviation"}},
        {"type": "Bar Chart: Stacked", "dataSource": "Score Reports", "metric": "Failed Reports",
         "filters": {"User": [admin.id], "Score Version": ["3", "active"]}},
        {"type": "Bar Chart: Grouped", "dataSource": "Score Reports", "metric": "Processing Time",
         "measure": {"type": "Median"}, "groupBy": "Type", "isEmbedded": True},
    ]
    report = create(admin, widgets=widgets)
    stored = report["widgets"]
    assert [w["type"] for w in stored] == [w["type"] for w in widgets]
    assert stored[0]["title"] == "Table" and stored[0]["visualMode"] == "Full"
    assert stored[4]["visualMode"] == "Half screen"
    assert stored[3].get("measure") is None  # counts carry no measure
    assert stored[4]["measure"] == {"type": "Mean"}
    assert stored[5]["measure"] == {"type": "nth Percentile", "percentileValue": 90.0}
    assert stored[7]["filters"] == {"User": [admin.id], "Score Version": ["3", "active"]}
    assert stored[2]["numberCards"][0]["fixedTimespan"] == "3600"
    assert stored[8]["isEmbedded"] is True
    # Every widget answers its data (no data seeded: empty, never an error).
    for widget in stored:
        r = admin.get(f"/v6/reports/{report['reportId']}/{widget['id']}")
        assert r.status_code == 200, (widget["type"], r.get_json())
        assert set(r.get_json()) == {"from", "to", "reportDataComponentData"}


def test_measure_defaults_to_mean(admin):
    report = create(admin, widgets=[{"type": "Table", "dataSource": "Score Reports", "metric": "Score",
                                     "groupBy": "Status"}])
    assert report["widgets"][0]["measure"] == {"type": "Mean"}


# --- read, update, delete ------------------------------------------------------------------


def test_update_is_a_full_replace_and_round_trips_what_get_answers(admin, make_actor):
    report = create(admin, title="Before", description="words", widgets=[line(id="keep1"), line()])
    report_id = report["reportId"]
    fetched = admin.get(f"/v6/reports/{report_id}").get_json()
    fetched["title"] = "After"
    fetched["widgets"][1]["title"] = "Renamed"
    r = admin.post(f"/v6/reports/{report_id}/update", json=fetched)
    assert r.status_code == 200, r.get_json()
    [updated] = r.get_json()
    assert updated["title"] == "After" and updated["description"] == "words"
    assert [w["id"] for w in updated["widgets"]] == [w["id"] for w in report["widgets"]]
    assert updated["widgets"][1]["title"] == "Renamed"
    # Full replace: what is not sent is gone.
    r = admin.post(f"/v6/reports/{report_id}/update.json", json={"title": "Bare"})
    [bare] = r.get_json()
    assert bare["title"] == "Bare" and bare["description"] == "" and bare["widgets"] == []
    assert admin.get(f"/v6/reports/{report_id}").get_json()["widgets"] == []
    # modifiedBy follows the last editor.
    other_admin = make_actor("Account Admin", aid=admin.aid)
    [edited] = other_admin.post(f"/v6/reports/{report_id}/update", json={"title": "Theirs"}).get_json()
    assert edited["modifiedBy"] == other_admin.id and edited["createdBy"] == admin.id


def test_update_validates_widgets_like_create(admin):
    report = create(admin, widgets=[line(id="wid01")])
    r = admin.post(f"/v6/reports/{report['reportId']}/update", json={"title": "x", "widgets": [{"type": "Map"}]})
    assert r.status_code == 400 and "Widget 1" in r.get_json()["message"]
    assert admin.get(f"/v6/reports/{report['reportId']}").get_json()["widgets"][0]["id"] == "wid01"


def test_delete_answers_204_without_body_then_404(admin):
    report = create(admin)
    r = admin.post(f"/v6/reports/{report['reportId']}/delete")
    assert r.status_code == 204 and r.data == b""
    assert admin.get(f"/v6/reports/{report['reportId']}").status_code == 404
    assert admin.post(f"/v6/reports/{report['reportId']}/delete").status_code == 404


def test_unknown_report_and_widget_are_404(admin):
    report = create(admin, widgets=[line(id="w0001")])
    for path in ("/v6/reports/999999", "/v6/reports/nope", f"/v6/reports/{report['reportId']}/zzzzz",
                 "/v6/reports/999999/w0001"):
        r = admin.get(path)
        assert r.status_code == 404, path
        assert set(r.get_json()) == {"code", "message"}


# --- built-in reports ------------------------------------------------------------------------


def test_every_group_gets_the_builtin_reports(admin):
    reports = admin.get("/v6/reports").get_json()
    builtins = [r for r in reports if r["isBuiltIn"]]
    assert [r["title"] for r in builtins] == ["Scoring overview", "Model overview", "Model health"]
    assert all("widgets" not in r for r in reports)  # the list has no widgets
    scoring = admin.get(f"/v6/reports/{builtins[0]['reportId']}").get_json()
    titles = {w["title"]: w for w in scoring["widgets"]}
    for expected in ("Reports per hour", "Mean score over time", "Score distribution", "Processed versus failed",
                     "Latest reports"):
        assert expected in titles
    model = admin.get(f"/v6/reports/{builtins[1]['reportId']}").get_json()
    assert {w["title"] for w in model["widgets"]} == {"Active model", "Metrics by model version"}
    health = admin.get(f"/v6/reports/{builtins[2]['reportId']}").get_json()
    assert {w["title"] for w in health["widgets"]} == {"Active model health", "Feature PSI", "Score PSI over time",
                                                       "AUC over time", "Challenger agreement over time"}
    # All their widgets answer data.
    for report in (scoring, model, health):
        for widget in report["widgets"]:
            assert admin.get(f"/v6/reports/{report['reportId']}/{widget['id']}").status_code == 200


def test_builtins_are_created_lazily_for_groups_that_have_none(admin, db):
    db.dashboards.delete_many({"aid": admin.aid})
    first = admin.get("/v6/reports").get_json()
    assert [r["title"] for r in first if r["isBuiltIn"]] == ["Scoring overview", "Model overview", "Model health"]
    again = admin.get("/v6/reports").get_json()
    assert [r["reportId"] for r in again] == [r["reportId"] for r in first]
    assert db.dashboards.count_documents({"aid": admin.aid, "isBuiltIn": True}) == 3


def test_a_group_cannot_get_a_builtin_twice(admin, db):
    ensure_builtin_reports(admin.aid, db)  # idempotent
    assert db.dashboards.count_documents({"aid": admin.aid, "isBuiltIn": True}) == 3
    # Two first listings racing each other: the unique (aid, builtinKey) index stops the second insert.
    with pytest.raises(DuplicateKeyError):
        db.dashboards.insert_one({"aid": admin.aid, "reportId": "race", "builtinKey": "scoring-overview"})


def test_builtins_cannot_be_changed_or_deleted(admin):
    builtin_id = admin.get("/v6/reports").get_json()[0]["reportId"]
    r = admin.post(f"/v6/reports/{builtin_id}/update", json={"title": "Hijacked"})
    assert r.status_code == 403 and "built in" in r.get_json()["message"]
    r = admin.post(f"/v6/reports/{builtin_id}/delete")
    assert r.status_code == 403 and "built in" in r.get_json()["message"]
    assert admin.get(f"/v6/reports/{builtin_id}").get_json()["title"] == "Scoring overview"


def test_builtin_definitions_are_valid_widgets():
    for definition in BUILTIN_REPORTS:
        cleaned = clean_widgets(definition["widgets"])
        assert [w["id"] for w in cleaned] == [w["id"] for w in definition["widgets"]]


# --- defaults ---------------------------------------------------------------------------------


def _flags(actor, report_id):
    report = actor.get(f"/v6/reports/{report_id}").get_json()
    return report["isDefaultForUser"], report["isDefaultForAccount"]


def test_user_default_is_per_user_and_unique(admin, make_actor):
    regular = make_actor("Regular User", aid=admin.aid)
    a = create(regular, "A", isDefaultForUser=True)
    assert a["isDefaultForUser"] is True
    b = create(regular, "B", isDefaultForUser=True)
    assert _flags(regular, a["reportId"]) == (False, False)
    assert _flags(regular, b["reportId"]) == (True, False)
    # Someone else's default is theirs alone.
    assert _flags(admin, b["reportId"]) == (False, False)
    c = create(admin, "C", isDefaultForUser=True)
    assert _flags(regular, b["reportId"])[0] is True and _flags(admin, c["reportId"])[0] is True
    # Cleared explicitly; omitted on update leaves it as it is.
    regular.post(f"/v6/reports/{b['reportId']}/update", json={"title": "B2"})
    assert _flags(regular, b["reportId"])[0] is True
    regular.post(f"/v6/reports/{b['reportId']}/update", json={"title": "B3", "isDefaultForUser": False})
    assert _flags(regular, b["reportId"])[0] is False


def test_account_default_is_unique_and_admins_only(admin, make_actor):
    regular = make_actor("Regular User", aid=admin.aid)
    body = create(regular, "Wants it", isDefaultForAccount=True, status=403)
    assert "Account Admins" in body["message"]
    mine = create(regular, "Mine")
    r = regular.post(f"/v6/reports/{mine['reportId']}/update", json={"title": "x", "isDefaultForAccount": True})
    assert r.status_code == 403
    first = create(admin, "First", isDefaultForAccount=True)
    second = create(admin, "Second")
    r = admin.post(f"/v6/reports/{second['reportId']}/update", json={"title": "Second", "isDefaultForAccount": True})
    assert r.get_json()[0]["isDefaultForAccount"] is True
    assert _flags(regular, first["reportId"]) == (False, False)
    assert _flags(regular, second["reportId"]) == (False, True)
    # An admin may make a user's report the group default; the user may then resend it unchanged...
    admin.post(f"/v6/reports/{mine['reportId']}/update", json={"title": "Mine", "isDefaultForAccount": True})
    fetched = regular.get(f"/v6/reports/{mine['reportId']}").get_json()
    assert fetched["isDefaultForAccount"] is True
    assert regular.post(f"/v6/reports/{mine['reportId']}/update", json=fetched).status_code == 200
    # ...but not clear it.
    fetched["isDefaultForAccount"] = False
    assert regular.post(f"/v6/reports/{mine['reportId']}/update", json=fetched).status_code == 403
    assert _flags(admin, second["reportId"]) == (False, False)


# --- permissions and account groups ---------------------------------------------------------------


def test_credentials_are_required(client, admin):
    assert client.get("/v6/reports").status_code == 401
    assert client.post("/v6/reports/create", json={"title": "x"}).status_code == 401
    r = client.get("/v6/reports", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and set(r.get_json()) == {"code", "message"}
    bad_basic = base64.b64encode(f"{admin.email}:wrong".encode()).decode()
    assert client.get("/v6/reports", headers={"Authorization": f"Basic {bad_basic}"}).status_code == 401


def test_read_only_can_view_but_not_create_update_or_delete(admin, make_actor):
    reader = make_actor("Read Only", aid=admin.aid)
    report = create(admin, widgets=[line(id="rdonl")])
    assert reader.get("/v6/reports").status_code == 200
    assert reader.get(f"/v6/reports/{report['reportId']}").status_code == 200
    assert reader.get(f"/v6/reports/{report['reportId']}/rdonl").status_code == 200
    r = reader.post("/v6/reports/create", json={"title": "no"})
    assert r.status_code == 403 and "Edit Reports" in r.get_json()["message"]
    assert reader.post(f"/v6/reports/{report['reportId']}/update", json={"title": "no"}).status_code == 403
    assert reader.post(f"/v6/reports/{report['reportId']}/delete").status_code == 403


def test_regular_user_changes_own_reports_only_admin_changes_anyones(admin, make_actor):
    regular = make_actor("Regular User", aid=admin.aid)
    colleague = make_actor("Regular User", aid=admin.aid)
    admins = create(admin, "Admin's")
    theirs = create(colleague, "Colleague's")
    r = regular.post(f"/v6/reports/{admins['reportId']}/delete")
    assert r.status_code == 403 and "Edit reports for all users in account group" in r.get_json()["message"]
    assert regular.post(f"/v6/reports/{theirs['reportId']}/update", json={"title": "x"}).status_code == 403
    own = create(regular, "Own")
    assert regular.post(f"/v6/reports/{own['reportId']}/update", json={"title": "Own 2"}).status_code == 200
    assert regular.post(f"/v6/reports/{own['reportId']}/delete").status_code == 204
    assert admin.post(f"/v6/reports/{theirs['reportId']}/delete").status_code == 204
    assert admin.get(f"/v6/reports/{admins['reportId']}").status_code == 200


def test_other_account_groups_reports_are_404(admin, make_actor):
    stranger = make_actor("Account Admin")
    report = create(admin, widgets=[line(id="priv1")])
    rid = report["reportId"]
    assert stranger.get(f"/v6/reports/{rid}").status_code == 404
    assert stranger.get(f"/v6/reports/{rid}/priv1").status_code == 404
    assert stranger.post(f"/v6/reports/{rid}/update", json={"title": "mine now"}).status_code == 404
    assert stranger.post(f"/v6/reports/{rid}/delete").status_code == 404
    assert rid not in {r["reportId"] for r in stranger.get("/v6/reports").get_json()}
    assert admin.get(f"/v6/reports/{rid}").get_json()["title"] == "Mine"
    # Naming a group one is not in is a 400, as v6 documents.
    assert stranger.get(f"/v6/reports?aid={admin.aid}").status_code == 400


def test_aid_selects_the_account_group_and_links_keep_it(admin, make_actor, db):
    other = make_actor("Account Admin")
    db.users.update_one({"_id": admin.id}, {"$push": {"memberships": {"aid": other.aid, "roleId": 3}}})
    theirs = create(other, "In the other group", widgets=[line(id="oth01")])
    listed = admin.get(f"/v6/reports?aid={other.aid}").get_json()
    assert theirs["reportId"] in {r["reportId"] for r in listed}
    report = admin.get(f"/v6/reports/{theirs['reportId']}?aid={other.aid}").get_json()
    assert report["accountId"] == other.aid
    assert report["widgets"][0]["apiLink"].endswith(f"/v6/reports/{theirs['reportId']}/oth01?aid={other.aid}")
    assert admin.get(f"/v6/reports/{theirs['reportId']}").status_code == 404  # default group is admin's own
    # Read Only there: no creating.
    assert admin.post(f"/v6/reports/create?aid={other.aid}", json={"title": "x"}).status_code == 403


# --- formats ---------------------------------------------------------------------------------------


def test_xml_by_suffix_accept_and_format(admin):
    report = create(admin, widgets=[line(id="xml01")])
    rid = report["reportId"]
    for path, headers in ((f"/v6/reports/{rid}.xml", {}),
                          (f"/v6/reports/{rid}", {"Accept": "application/xml"}),
                          (f"/v6/reports/{rid}?format=xml", {})):
        r = admin.get(path, headers=headers)
        assert r.status_code == 200 and r.mimetype == "application/xml", path
        item = xmltodict.parse(r.data)["item"]
        assert item["reportId"] == rid and item["title"] == "Mine" and item["isBuiltIn"] == "false"
        assert item["widgets"]["id"] == "xml01"
    listed = xmltodict.parse(admin.get("/v6/reports.xml").data)["items"]["item"]
    assert rid in [entry["reportId"] for entry in listed]
    data = admin.get(f"/v6/reports/{rid}/xml01.xml")
    assert data.mimetype == "application/xml"
    assert "reportDataComponentData" in xmltodict.parse(data.data)["item"]
    # The suffix wins over Accept; errors are XML too.
    r = admin.get("/v6/reports/999999.xml", headers={"Accept": "application/json"})
    assert r.status_code == 404 and xmltodict.parse(r.data)["error"]["code"] == "404"


def test_xml_body_creates_a_report(admin):
    body = ("<item><title>From XML</title><isDefaultForUser>true</isDefaultForUser>"
            "<widgets><type>Number</type><numberCards><dataSource>Score Reports</dataSource>"
            "<metric>Report Count</metric></numberCards></widgets></item>")
    r = admin.post("/v6/reports/create", data=body, headers={"Content-Type": "application/xml"})
    assert r.status_code == 200, r.get_json()
    [report] = r.get_json()
    assert report["title"] == "From XML" and report["isDefaultForUser"] is True
    assert report["widgets"][0]["numberCards"][0]["metric"] == "Report Count"


def test_unacceptable_accept_is_406(admin):
    r = admin.get("/v6/reports", headers={"Accept": "text/csv"})
    assert r.status_code == 406


def test_rate_limit_headers_count_down_and_429_over_the_limit(admin, app):
    first = admin.get("/v6/reports")
    second = admin.get("/v6/reports")
    assert int(second.headers["X-Organization-Rate-Limit-Remaining"]) == \
        int(first.headers["X-Organization-Rate-Limit-Remaining"]) - 1
    app.config["MAIASCORE"].RATE_LIMIT_PER_MINUTE = int(second.headers["X-Organization-Rate-Limit-Limit"]) - \
        int(second.headers["X-Organization-Rate-Limit-Remaining"])
    r = admin.get("/v6/reports")
    assert r.status_code == 429 and r.headers["X-Organization-Rate-Limit-Remaining"] == "0"


def test_openapi_documents_the_v6_reports_family(client):
    spec = client.get("/openapi.json").get_json()
    for path in ("/v6/reports", "/v6/reports/create", "/v6/reports/{report_id}", "/v6/reports/{report_id}/update",
                 "/v6/reports/{report_id}/delete", "/v6/reports/{report_id}/{widget_id}", "/v6/report-snapshots",
                 "/v6/report-snapshots/create", "/v6/report-snapshots/{snapshot_id}",
                 "/v6/report-snapshots/{snapshot_id}/{widget_id}", "/v6/report-snapshots/{snapshot_id}/delete"):
        assert path in spec["paths"], path
    assert "V6Report" in spec["components"]["schemas"]
