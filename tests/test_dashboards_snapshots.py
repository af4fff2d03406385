"""/v6/report-snapshots: frozen data, listing with pages, permissions."""
import re
from datetime import timedelta

import pytest
import xmltodict

from maiascore.dashboards import planner, snapshots
from test_dashboards_data import T0, TWO_DAYS, seed_reports

SPAN = {"from": "2024-03-04 00:00:00", "to": "2024-03-06 00:00:00"}
WIDGETS = [
    {"id": "lines", "type": "Time Series: Line", "dataSource": "Score Reports", "metric": "Score"},
    {"id": "count", "type": "Number", "dataSource": "Score Reports", "metric": "Report Count"},
]


@pytest.fixture
def report(admin, db):
    seed_reports(db, admin.aid, (admin.id, admin.id))
    r = admin.post("/v6/reports/create", json={"title": "Weekly", "widgets": WIDGETS})
    assert r.status_code == 200
    return r.get_json()[0]


def snapshot(actor, report_id, status=200, **body):
    r = actor.post("/v6/report-snapshots/create", json={"reportId": report_id, **body})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def test_snapshot_freezes_every_widgets_data(admin, report, db):
    rid = report["reportId"]
    snap = snapshot(admin, rid, snapshotName="March", **SPAN)
    assert re.fullmatch(r"[0-9a-f-]{36}", snap["snapshotId"])
    assert snap["snapshotName"] == "March"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", snap["createdDate"])
    assert snap["timeSpan"] == {"startDate": "2024-03-04 00:00:00", "duration": 2 * 86400}
    assert snap["isScheduled"] is False and snap["isShared"] is False
    assert snap["accountId"] == admin.aid and snap["createdBy"] == admin.id
    assert snap["report"]["reportId"] == rid and snap["report"]["title"] == "Weekly"
    assert snap["report"]["isBuiltIn"] is False
    assert [w["id"] for w in snap["widgets"]] == ["lines", "count"]
    sid = snap["snapshotId"]
    assert snap["widgets"][0]["apiLink"] == f"http://localhost/v6/report-snapshots/{sid}/lines"
    assert {"rel": "self", "href": f"http://localhost/v6/report-snapshots/{sid}"} in snap["apiLinks"]

    live = {w: admin.get(f"/v6/reports/{rid}/{w}", query_string=TWO_DAYS).get_json() for w in ("lines", "count")}
    frozen = {w: admin.get(f"/v6/report-snapshots/{sid}/{w}").get_json() for w in ("lines", "count")}
    assert frozen == live
    assert frozen["count"]["reportDataComponentData"]["data"][0]["value"] == 48

    # New reports in the span, a rewritten report, then no report at all: the snapshot does not move.
    db.score_reports.insert_one({"aid": admin.aid, "status": "processed", "score": 999, "type": "reference",
                                 "created_at": T0 + timedelta(hours=5)})
    admin.post(f"/v6/reports/{rid}/update", json={"title": "Rewritten"})
    assert admin.get(f"/v6/report-snapshots/{sid}/count").get_json() == frozen["count"]
    admin.post(f"/v6/reports/{rid}/delete")
    assert admin.get(f"/v6/report-snapshots/{sid}/lines").get_json() == frozen["lines"]
    [detail] = admin.get(f"/v6/report-snapshots/{sid}").get_json()["reportSnapshots"]
    assert detail["report"]["title"] == "Weekly" and [w["id"] for w in detail["widgets"]] == ["lines", "count"]


def test_snapshot_timespans(admin, report):
    rid = report["reportId"]
    by_span = snapshot(admin, rid, timeSpan={"startDate": "2024-03-04 00:00:00", "duration": 86400},
                       displayName="Day one")
    assert by_span["snapshotName"] == "Day one"
    assert by_span["timeSpan"] == {"startDate": "2024-03-04 00:00:00", "duration": 86400}
    data = admin.get(f"/v6/report-snapshots/{by_span['snapshotId']}/count").get_json()
    assert data["reportDataComponentData"]["data"][0]["value"] == 24
    by_window = snapshot(admin, rid, window="12h")
    assert by_window["timeSpan"]["duration"] == 12 * 3600 and by_window["snapshotName"] == "Weekly"
    default = snapshot(admin, int(rid))
    assert default["timeSpan"]["duration"] == 7 * 86400


@pytest.mark.parametrize("body, fragment", [
    ({"window": "1d", "from": "2024-03-04 00:00:00"}, "mutually exclusive"),
    ({"from": "2024-01-01 00:00:00", "to": "2024-06-01 00:00:00"}, "93 days"),
    ({"timeSpan": {"startDate": "2024-03-04 00:00:00", "duration": 0}}, "positive number of seconds"),
    ({"timeSpan": {"startDate": "2024-03-04 00:00:00", "duration": 94 * 86400}}, "93 days"),
    ({"timeSpan": {"startDate": "yesterday", "duration": 60}}, "timeSpan.startDate"),
    ({"timeSpan": {"startDate": "2024-03-04 00:00:00", "duration": 60}, "window": "1d"}, "mutually exclusive"),
])
def test_bad_timespans_are_400(admin, report, body, fragment):
    answer = snapshot(admin, report["reportId"], status=400, **body)
    assert fragment in answer["message"]


def test_snapshot_needs_an_existing_report_of_the_group(admin, report, make_actor):
    r = admin.post("/v6/report-snapshots/create", json={"snapshotName": "x"})
    assert r.status_code == 400 and "reportId" in r.get_json()["errors"]
    assert snapshot(admin, "999999", status=404)["code"] == 404
    stranger = make_actor("Account Admin")
    assert snapshot(stranger, report["reportId"], status=404)["code"] == 404


def test_list_pages_and_filter(admin, report, monkeypatch):
    monkeypatch.setattr(snapshots, "PAGE_SIZE", 2)
    other = admin.post("/v6/reports/create", json={"title": "Other"}).get_json()[0]
    made = [snapshot(admin, report["reportId"], snapshotName=f"S{i}", window="1h")["snapshotId"] for i in range(3)]
    snapshot(admin, other["reportId"], snapshotName="Elsewhere", window="1h")
    first = admin.get(f"/v6/report-snapshots?reportId={report['reportId']}").get_json()
    assert first["pages"]["current"] == 1
    assert [s["snapshotId"] for s in first["reportSnapshots"]] == made[::-1][:2]  # newest first
    assert "widgets" not in first["reportSnapshots"][0]
    next_url = first["pages"]["next"]
    assert next_url.startswith("http://localhost/v6/report-snapshots?") and "page=2" in next_url
    second = admin.get(next_url.replace("http://localhost", "")).get_json()
    assert second["pages"] == {"current": 2}
    assert [s["snapshotId"] for s in second["reportSnapshots"]] == made[:1]
    everything = admin.get("/v6/report-snapshots?page=1").get_json()
    assert len(everything["reportSnapshots"]) == 2 and "next" in everything["pages"]
    assert admin.get("/v6/report-snapshots?page=0").status_code == 400
    listed = xmltodict.parse(admin.get("/v6/report-snapshots.xml").data)["item"]
    assert listed["pages"]["current"] == "1"


def test_delete_and_permissions(admin, report, make_actor):
    reader = make_actor("Read Only", aid=admin.aid)
    regular = make_actor("Regular User", aid=admin.aid)
    stranger = make_actor("Account Admin")
    admins = snapshot(admin, report["reportId"], window="1h")["snapshotId"]
    regulars = snapshot(regular, report["reportId"], window="1h")["snapshotId"]
    assert snapshot(reader, report["reportId"], status=403)["code"] == 403
    assert reader.get("/v6/report-snapshots").status_code == 200
    assert reader.get(f"/v6/report-snapshots/{admins}/count").status_code == 200
    assert reader.post(f"/v6/report-snapshots/{regulars}/delete").status_code == 403
    for path in (f"/v6/report-snapshots/{admins}", f"/v6/report-snapshots/{admins}/count"):
        assert stranger.get(path).status_code == 404
    assert stranger.post(f"/v6/report-snapshots/{admins}/delete").status_code == 404
    assert stranger.get("/v6/report-snapshots").get_json()["reportSnapshots"] == []
    r = regular.post(f"/v6/report-snapshots/{admins}/delete")
    assert r.status_code == 403 and "Edit reports for all users" in r.get_json()["message"]
    r = regular.post(f"/v6/report-snapshots/{regulars}/delete")
    assert r.status_code == 204 and r.data == b""
    assert admin.get(f"/v6/report-snapshots/{regulars}").status_code == 404
    assert admin.post(f"/v6/report-snapshots/{admins}/delete").status_code == 204
    assert admin.get(f"/v6/report-snapshots/{admins}/count").status_code == 404
    assert admin.get(f"/v6/report-snapshots/{admins}/bad-id").status_code == 404


def test_snapshot_reads_each_source_once_per_range(admin, db, monkeypatch):
    seed_reports(db, admin.aid, (admin.id, admin.id))
    scoring = next(r for r in admin.get("/v6/reports").get_json() if r["title"] == "Scoring overview")
    live = {w["id"]: admin.get(f"/v6/reports/{scoring['reportId']}/{w['id']}", query_string=TWO_DAYS).get_json()
            for w in admin.get(f"/v6/reports/{scoring['reportId']}").get_json()["widgets"]}
    calls = []
    original = planner.Context.aggregate
    monkeypatch.setattr(planner.Context, "aggregate",
                        lambda self, source, pipeline: calls.append(pipeline) or original(self, source, pipeline))
    snap = snapshot(admin, scoring["reportId"], **SPAN)
    # Every grouped widget in one $facet; the latest-reports table reads its ten rows on its own.
    assert len(calls) == 2 and "$facet" in calls[0][1]
    frozen = {w: admin.get(f"/v6/report-snapshots/{snap['snapshotId']}/{w}").get_json() for w in live}
    assert frozen == live
