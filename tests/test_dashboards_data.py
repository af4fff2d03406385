"""Widget data against seeded documents whose answers are known: bins, measures, groups, ranges."""
import math
import statistics
from datetime import datetime, timedelta, timezone

import pytest
from bson import ObjectId

from maiascore.dashboards import planner

T0 = datetime(2024, 3, 4, tzinfo=timezone.utc)  # epoch 1709510400: a multiple of every bin size
E0 = int(T0.timestamp())
HOUR = 3600
TWO_DAYS = {"from": "2024-03-04T00:00:00", "to": "2024-03-06T00:00:00"}


def nearest_rank(values, p):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def seed_reports(db, aid, users):
    """48 score reports, one at ten past each hour of 4-5 March 2024.

    Report i: score 500 + 5i, or failed without a score when i % 8 == 7 (6 of them); score
    version "1" on the first day, "2" on the second; users alternating; outcome good, bad,
    none by i % 3; processing time i % 4 + 1 seconds. Over the 42 scores: mean 615,
    nearest-rank median 610, 90th percentile 710, minimum 500, maximum 730.
    """
    docs = []
    for i in range(48):
        created = T0 + timedelta(hours=i, minutes=10)
        failed = i % 8 == 7
        docs.append({
            "_id": ObjectId(), "aid": aid, "uuid": None, "referenceId": f"ref-{i:02d}", "type": "reference",
            "features": {}, "users_permissions_user": users[i % 2],
            "status": "failed" if failed else "processed", "processed": not failed,
            "score": None if failed else 500 + 5 * i,
            "scoreProbability": None if failed else round(0.01 * (i + 1), 2),
            "scoreConfidence": None if failed else 0.5,
            "scoreVersion": None if failed else ("1" if i < 24 else "2"),
            "explanation": [], "warnings": [], "error": "boom" if failed else None,
            "outcome": ("good", "bad", None)[i % 3], "batch": "b1",
            "created_at": created, "updated_at": created, "published_at": created,
            "processed_at": None if failed else created + timedelta(seconds=i % 4 + 1),
            "created_by": users[i % 2], "updated_by": users[i % 2],
        })
    db.score_reports.insert_many(docs)
    return docs


@pytest.fixture
def seeded(admin, make_actor, db):
    regular = make_actor("Regular User", aid=admin.aid)
    docs = seed_reports(db, admin.aid, (admin.id, regular.id))
    # Another group's reports in the same hours must never show.
    stranger = make_actor("Account Admin")
    seed_reports(db, stranger.aid, (stranger.id, stranger.id))
    return {"admin": admin, "regular": regular, "docs": docs, "stranger": stranger}


def add_widget(actor, widget):
    widget = dict(widget)
    widget.setdefault("id", "wdg01")
    r = actor.post("/v6/reports/create", json={"title": "Data", "widgets": [widget]})
    assert r.status_code == 200, r.get_json()
    return r.get_json()[0]["reportId"], widget["id"]


def data_of(actor, widget, **params):
    report_id, widget_id = add_widget(actor, widget)
    r = actor.get(f"/v6/reports/{report_id}/{widget_id}", query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def scores(docs, keep=lambda d: True):
    return [d["score"] for d in docs if d["score"] is not None and keep(d)]


SR = {"dataSource": "Score Reports"}


def test_line_of_mean_score_has_one_hourly_bin_per_scored_report(seeded):
    body = data_of(seeded["admin"], {"type": "Time Series: Line", **SR, "metric": "Score"}, **TWO_DAYS)
    assert body["from"] == "2024-03-04 00:00:00" and body["to"] == "2024-03-06 00:00:00"
    component = body["reportDataComponentData"]
    assert component["binSize"] == HOUR and component["groupLabelMaps"] == []
    expected = [{"binId": E0 + i * HOUR, "count": 1, "value": 500 + 5 * i, "groups": []}
                for i in range(48) if i % 8 != 7]
    assert component["data"] == expected  # failed hours hold no score: their bins are omitted


def test_report_count_bars_count_every_report_and_failed_reports_count_failures(seeded):
    body = data_of(seeded["admin"], {"type": "Bar Chart: Stacked", **SR, "metric": "Report Count"}, **TWO_DAYS)
    data = body["reportDataComponentData"]["data"]
    assert [d["binId"] for d in data] == [E0 + i * HOUR for i in range(48)]
    assert all(d["count"] == 1 and d["value"] == 1 for d in data)
    # 20 days: two-hour bins holding reports 2k and 2k+1.
    body = data_of(seeded["admin"], {"type": "Bar Chart: Grouped", **SR, "metric": "Failed Reports", "id": "fail2"},
                   **{"from": "2024-03-04T00:00:00", "to": "2024-03-24T00:00:00"})
    component = body["reportDataComponentData"]
    assert component["binSize"] == 2 * HOUR
    assert [(d["binId"], d["count"], d["value"]) for d in component["data"]] == [
        (E0 + k * 2 * HOUR, 2, 1 if k % 4 == 3 else 0) for k in range(24)]


def test_two_hour_bins_of_mean_score(seeded):
    body = data_of(seeded["admin"], {"type": "Time Series: Stacked Area", **SR, "metric": "Score"},
                   **{"from": "2024-03-04T00:00:00", "to": "2024-03-20T00:00:00"})
    data = body["reportDataComponentData"]["data"]
    assert body["reportDataComponentData"]["binSize"] == 7200
    assert data[0] == {"binId": E0, "count": 2, "value": 502.5, "groups": []}
    assert data[3] == {"binId": E0 + 3 * 7200, "count": 1, "value": 530, "groups": []}  # report 7 failed
    assert len(data) == 24


def test_five_minute_bins_up_to_a_day(seeded):
    body = data_of(seeded["admin"], {"type": "Time Series: Line", **SR, "metric": "Report Count"},
                   **{"from": "2024-03-04T00:00:00", "to": "2024-03-05T00:00:00"})
    component = body["reportDataComponentData"]
    assert component["binSize"] == 300
    assert [d["binId"] for d in component["data"]] == [E0 + i * HOUR + 600 for i in range(24)]


def test_grouped_time_series_by_status_with_labels(seeded):
    body = data_of(seeded["admin"], {"type": "Bar Chart: Stacked", **SR, "metric": "Report Count",
                                     "groupBy": "Status"}, **{"from": "2024-03-04T00:00:00",
                                                              "to": "2024-03-20T00:00:00"})
    data = body["reportDataComponentData"]["data"]
    third = [d for d in data if d["binId"] == E0 + 3 * 7200]
    assert third == [
        {"binId": E0 + 3 * 7200, "count": 1, "value": 1, "groups": [{"groupProperty": "Status", "groupId": "failed"}]},
        {"binId": E0 + 3 * 7200, "count": 1, "value": 1,
         "groups": [{"groupProperty": "Status", "groupId": "processed"}]},
    ]
    assert sum(d["value"] for d in data) == 48
    [label_map] = body["reportDataComponentData"]["groupLabelMaps"]
    assert label_map["groupProperty"] == "Status"
    assert sorted(label_map["groupLabels"], key=lambda label: label["groupId"]) == [
        {"groupId": "failed", "groupLabel": "failed"}, {"groupId": "processed", "groupLabel": "processed"}]


@pytest.mark.parametrize("measure, expected", [
    ({"type": "Mean"}, 615),
    ({"type": "Median"}, 610),
    ({"type": "nth Percentile", "percentileValue": 90}, 710),
    ({"type": "nth Percentile", "percentileValue": 25}, None),  # computed below
    ({"type": "Minimum"}, 500),
    ({"type": "Maximum"}, 730),
    ({"type": "Standard Deviation"}, None),
])
def test_number_card_measures_over_two_days(seeded, measure, expected):
    values = scores(seeded["docs"])
    if expected is None:
        expected = (nearest_rank(values, measure["percentileValue"] / 100) if measure["type"] == "nth Percentile"
                    else statistics.pstdev(values))
    body = data_of(seeded["admin"], {"type": "Number", "numberCards": [
        {"id": "card1", **SR, "metric": "Score", "measure": measure}]}, **TWO_DAYS)
    [card] = body["reportDataComponentData"]["data"]
    assert card["cardId"] == "card1" and card["count"] == 42 and card["binId"] == E0
    assert card["value"] == pytest.approx(expected)
    assert body["reportDataComponentData"]["binSize"] == 2 * 86400


def test_number_cards_one_value_each_even_when_empty(seeded):
    docs = seeded["docs"]
    processing = [(d["processed_at"] - d["created_at"]).total_seconds() for d in docs if d["processed_at"]]
    body = data_of(seeded["admin"], {"type": "Number", "numberCards": [
        {"id": "count", **SR, "metric": "Report Count"},
        {"id": "faild", **SR, "metric": "Failed Reports"},
        {"id": "proct", **SR, "metric": "Processing Time", "measure": {"type": "Mean"}},
        {"id": "probs", **SR, "metric": "Score Probability", "measure": {"type": "Maximum"}},
        {"id": "versn", **SR, "metric": "Report Count", "filters": {"Score Version": ["2"]}},
        {"id": "lastd", **SR, "metric": "Report Count", "fixedTimespan": 86400},
        {"id": "empty", "dataSource": "Trainings", "metric": "AUC"},
    ]}, **TWO_DAYS)
    cards = {c["cardId"]: c for c in body["reportDataComponentData"]["data"]}
    assert (cards["count"]["count"], cards["count"]["value"]) == (48, 48)
    assert (cards["faild"]["count"], cards["faild"]["value"]) == (48, 6)
    assert cards["proct"]["value"] == pytest.approx(statistics.mean(processing))
    assert cards["probs"]["value"] == pytest.approx(0.47)
    assert cards["versn"]["value"] == 21
    assert cards["lastd"]["value"] == 24 and cards["lastd"]["binId"] == E0 + 86400  # the last day only
    assert cards["empty"] == {"cardId": "empty", "binId": E0, "count": 0, "value": None, "groups": []}


def test_pie_by_user_labels_are_usernames(seeded, db):
    admin, regular = seeded["admin"], seeded["regular"]
    body = data_of(admin, {"type": "Pie Chart", **SR, "metric": "Report Count", "groupBy": "User"}, **TWO_DAYS)
    component = body["reportDataComponentData"]
    assert sorted((d["groups"][0]["groupId"], d["value"]) for d in component["data"]) == \
        sorted([(str(admin.id), 24), (str(regular.id), 24)])
    [label_map] = component["groupLabelMaps"]
    names = {u["_id"]: u["username"] for u in db.users.find({"_id": {"$in": [admin.id, regular.id]}})}
    assert label_map["groupProperty"] == "User"
    assert {(l["groupId"], l["groupLabel"]) for l in label_map["groupLabels"]} == \
        {(str(uid), name) for uid, name in names.items()}
    assert "@" not in str(component)  # usernames only, never emails


def test_table_grouped_sorted_and_limited(seeded):
    widget = {"type": "Table", **SR, "metric": "Score", "groupBy": "Score Version"}
    body = data_of(seeded["admin"], widget, **TWO_DAYS)
    rows = [(d["groups"][0]["groupId"], d["count"], d["value"]) for d in body["reportDataComponentData"]["data"]]
    first_day = scores(seeded["docs"][:24])
    second_day = scores(seeded["docs"][24:])
    assert rows == [("2", 21, pytest.approx(statistics.mean(second_day))),
                    ("1", 21, pytest.approx(statistics.mean(first_day)))]  # Value, Descending by default
    body = data_of(seeded["admin"], {**widget, "id": "asc01", "sortDirection": "Ascending", "limit": 1}, **TWO_DAYS)
    assert [d["groups"][0]["groupId"] for d in body["reportDataComponentData"]["data"]] == ["1"]
    counts = data_of(seeded["admin"], {"type": "Table", **SR, "metric": "Report Count", "groupBy": "Score Version",
                                       "sortBy": "Alphabetical", "id": "alpha"}, **TWO_DAYS)
    data = counts["reportDataComponentData"]["data"]
    assert [(d["groups"][0]["groupId"], d["value"]) for d in data] == [("1", 21), ("2", 21), ("none", 6)]
    labels = counts["reportDataComponentData"]["groupLabelMaps"][0]["groupLabels"]
    assert {"groupId": "none", "groupLabel": "(none)"} in labels


def test_table_without_group_lists_latest_documents(seeded):
    body = data_of(seeded["admin"], {"type": "Table", **SR, "metric": "Score", "limit": 3}, **TWO_DAYS)
    component = body["reportDataComponentData"]
    docs = seeded["docs"]
    latest = [d for d in reversed(docs) if d["score"] is not None][:3]
    assert [d["value"] for d in component["data"]] == [d["score"] for d in latest]
    assert [d["binId"] for d in component["data"]] == [int(d["created_at"].timestamp()) for d in latest]
    assert [d["groups"][0]["groupId"] for d in component["data"]] == [str(d["_id"]) for d in latest]
    [label_map] = component["groupLabelMaps"]
    assert label_map["groupProperty"] == "Report"
    assert [l["groupLabel"] for l in label_map["groupLabels"]] == [d["referenceId"] for d in latest]
    top = data_of(seeded["admin"], {"type": "Table", **SR, "metric": "Score", "limit": 2, "sortBy": "Value",
                                    "sortDirection": "Ascending", "id": "low02"}, **TWO_DAYS)
    assert [d["value"] for d in top["reportDataComponentData"]["data"]] == [500, 505]


def test_box_and_whiskers_by_outcome(seeded):
    body = data_of(seeded["admin"], {"type": "Box and Whiskers", **SR, "metric": "Score", "measure": {"type": "Median"},
                                     "groupBy": "Outcome", "sortBy": "Alphabetical"}, **TWO_DAYS)
    data = body["reportDataComponentData"]["data"]
    assert [d["groups"][0]["groupId"] for d in data] == ["bad", "good", "none"]  # no group last
    for datum in data:
        outcome = {"none": None, "bad": "bad", "good": "good"}[datum["groups"][0]["groupId"]]
        values = scores(seeded["docs"], lambda d: d["outcome"] == outcome)
        assert datum["count"] == len(values)
        assert datum["value"] == nearest_rank(values, 0.5)
        assert datum["distribution"] == {"minimum": min(values), "q1": nearest_rank(values, 0.25),
                                         "median": nearest_rank(values, 0.5), "q3": nearest_rank(values, 0.75),
                                         "maximum": max(values)}


def test_filters_keep_only_listed_values(seeded):
    admin, regular = seeded["admin"], seeded["regular"]
    body = data_of(admin, {"type": "Number", **SR, "metric": "Report Count",
                           "filters": {"Status": ["failed"], "User": [regular.id]}}, **TWO_DAYS)
    [card] = body["reportDataComponentData"]["data"]
    assert card["value"] == 6  # every failed report has an odd i: the regular user's
    body = data_of(admin, {"type": "Number", **SR, "metric": "Report Count", "id": "good1",
                           "filters": {"Outcome": ["good"], "Type": ["reference"]}}, **TWO_DAYS)
    assert body["reportDataComponentData"]["data"][0]["value"] == 16


def test_multi_metric_table_by_version(seeded):
    body = data_of(seeded["admin"], {"type": "Multi Metric Table", "groupBy": "Score Version",
                                     "sortBy": "Alphabetical", "multiMetricColumns": [
                                         {"id": "mean1", **SR, "metric": "Score"},
                                         {"id": "maxpt", **SR, "metric": "Processing Time",
                                          "measure": {"type": "Maximum"}},
                                         {"id": "count", **SR, "metric": "Report Count"}]}, **TWO_DAYS)
    data = body["reportDataComponentData"]["data"]
    cells = {(d["groups"][0]["groupId"], d["columnId"]): d["value"] for d in data}
    assert cells[("1", "mean1")] == pytest.approx(statistics.mean(scores(seeded["docs"][:24])))
    assert cells[("1", "maxpt")] == 4 and cells[("1", "count")] == 21
    assert cells[("none", "count")] == 6 and ("none", "mean1") not in cells  # no scores: no cell
    assert [d["groups"][0]["groupId"] for d in data] == ["1", "1", "1", "2", "2", "2", "none"]


def test_other_groups_data_never_counts(seeded):
    stranger = seeded["stranger"]
    body = data_of(stranger, {"type": "Number", **SR, "metric": "Report Count"}, **TWO_DAYS)
    assert body["reportDataComponentData"]["data"][0]["value"] == 48  # theirs only, not 96


# --- trainings ------------------------------------------------------------------------------------


@pytest.fixture
def trainings(admin, make_actor, db):
    def training(version, minutes_after, duration, status="succeeded", aid=None, **metrics):
        finished = T0 + timedelta(minutes=minutes_after)
        return {"_id": ObjectId(), "aid": aid or admin.aid, "uuid": None, "status": status, "progress": 100,
                "accuracy": metrics.get("accuracy"), "precission": metrics.get("precision"),
                "mae": metrics.get("mae"), "rmse": metrics.get("rmse"), "version": version,
                "meta": {"metrics": {"auc": metrics["auc"]}} if "auc" in metrics else {}, "metaAsText": False,
                "startedAt": finished - timedelta(seconds=duration), "finishedAt": finished,
                "created_at": finished - timedelta(seconds=duration + 5), "created_by": admin.id}

    other = make_actor("Account Admin")
    db.trainings.insert_many([
        training("1", 60, 120, accuracy=0.70, precision=0.60, auc=0.75, mae=0.3, rmse=0.4),
        training("2", 30 * 60, 300, accuracy=0.80, precision=0.70, auc=0.85, mae=0.2, rmse=0.3),
        training(None, 40 * 60, 10, status="failed"),
        training("1", 90, 60, aid=other.aid, accuracy=0.1, precision=0.1, auc=0.1, mae=0.9, rmse=0.9),
    ])
    db.models.insert_many([{"aid": admin.aid, "version": "1", "active": False, "training": "t1"},
                           {"aid": admin.aid, "version": "2", "active": True, "training": "t2"},
                           {"aid": other.aid, "version": "1", "active": True, "training": "t3"}])
    return admin


def test_trainings_multi_metric_table_by_version(trainings):
    body = data_of(trainings, {"type": "Multi Metric Table", "groupBy": "Score Version", "sortBy": "Alphabetical",
                               "sortDirection": "Descending", "multiMetricColumns": [
                                   {"id": "accur", "dataSource": "Trainings", "metric": "Accuracy"},
                                   {"id": "preci", "dataSource": "Trainings", "metric": "Precision"},
                                   {"id": "aucol", "dataSource": "Trainings", "metric": "AUC"},
                                   {"id": "maecl", "dataSource": "Trainings", "metric": "MAE"},
                                   {"id": "rmsec", "dataSource": "Trainings", "metric": "RMSE"},
                                   {"id": "durat", "dataSource": "Trainings", "metric": "Training Duration"}]},
                   **TWO_DAYS)
    cells = {(d["groups"][0]["groupId"], d["columnId"]): d["value"] for d in body["reportDataComponentData"]["data"]}
    assert cells == {
        ("none", "durat"): 10,
        ("2", "accur"): 0.80, ("2", "preci"): 0.70, ("2", "aucol"): 0.85, ("2", "maecl"): 0.2, ("2", "rmsec"): 0.3,
        ("2", "durat"): 300,
        ("1", "accur"): 0.70, ("1", "preci"): 0.60, ("1", "aucol"): 0.75, ("1", "maecl"): 0.3, ("1", "rmsec"): 0.4,
        ("1", "durat"): 120,
    }
    labels = body["reportDataComponentData"]["groupLabelMaps"][0]["groupLabels"]
    assert {"groupId": "2", "groupLabel": "2 (active)"} in labels


def test_trainings_are_binned_on_finished_at(trainings):
    body = data_of(trainings, {"type": "Time Series: Line", "dataSource": "Trainings", "metric": "Accuracy",
                               "groupBy": "Status"}, **TWO_DAYS)
    assert body["reportDataComponentData"]["data"] == [
        {"binId": E0 + HOUR, "count": 1, "value": 0.7, "groups": [{"groupProperty": "Status", "groupId": "succeeded"}]},
        {"binId": E0 + 30 * HOUR, "count": 1, "value": 0.8,
         "groups": [{"groupProperty": "Status", "groupId": "succeeded"}]},
    ]


def test_active_model_card_shows_the_active_model_whenever_it_was_trained(trainings):
    builtin = next(r for r in trainings.get("/v6/reports").get_json() if r["title"] == "Model overview")
    r = trainings.get(f"/v6/reports/{builtin['reportId']}/moact")  # default: the last 7 days, long after March 2024
    cards = {c["cardId"]: c["value"] for c in r.get_json()["reportDataComponentData"]["data"]}
    assert cards == {"moacc": 0.8, "mopre": 0.7, "moauc": 0.85, "mormx": 0.3, "mosco": 0}
    r = trainings.get(f"/v6/reports/{builtin['reportId']}/moact", query_string=TWO_DAYS)
    assert r.get_json()["reportDataComponentData"]["data"][-1]["value"] == 0  # no score reports seeded here


def test_builtin_scoring_overview_over_seeded_reports(seeded):
    admin = seeded["admin"]
    builtin = next(r for r in admin.get("/v6/reports").get_json() if r["title"] == "Scoring overview")

    def widget(widget_id):
        r = admin.get(f"/v6/reports/{builtin['reportId']}/{widget_id}", query_string=TWO_DAYS)
        assert r.status_code == 200
        return r.get_json()["reportDataComponentData"]

    totals = {c["cardId"]: c["value"] for c in widget("sotot")["data"]}
    assert totals["socnt"] == 48 and totals["sofld"] == 6 and totals["somsc"] == 615
    assert len(widget("sorph")["data"]) == 48
    versus = widget("sopvf")["data"]
    assert sum(d["value"] for d in versus if d["groups"][0]["groupId"] == "failed") == 6
    latest = widget("solat")["data"]
    assert len(latest) == 10 and latest[0]["value"] == 730


# --- time ranges -----------------------------------------------------------------------------------


@pytest.mark.parametrize("params, fragment", [
    ({"window": "1d", "from": "2024-03-04T00:00:00"}, "mutually exclusive"),
    ({"window": "1d", "to": "2024-03-04T00:00:00"}, "mutually exclusive"),
    ({"to": "2024-03-04T00:00:00"}, "to needs from"),
    ({"window": "7x"}, "window must be"),
    ({"window": "0d"}, "longer than zero"),
    ({"window": "94d"}, "93 days"),
    ({"window": "14w"}, "93 days"),
    ({"from": "2024-03-04"}, "YYYY-mm-ddTHH:MM:SS"),
    ({"from": "2024-02-30T00:00:00"}, "not a valid date-time"),
    ({"from": "2024-03-05T00:00:00", "to": "2024-03-04T00:00:00"}, "later than from"),
    ({"from": "2999-01-01T00:00:00"}, "in the past"),
    ({"from": "2023-01-01T00:00:00", "to": "2024-01-01T00:00:00"}, "93 days"),
])
def test_time_range_errors_are_400(admin, params, fragment):
    report_id, widget_id = add_widget(admin, {"type": "Time Series: Line", **SR, "metric": "Score"})
    r = admin.get(f"/v6/reports/{report_id}/{widget_id}", query_string=params)
    assert r.status_code == 400, params
    assert fragment in r.get_json()["message"]


@pytest.mark.parametrize("window, bin_size", [("3600", 300), ("1d", 300), ("25h", 3600), ("14d", 3600),
                                              ("2w", 3600), ("15d", 7200), ("30d", 7200), ("31d", 14400),
                                              ("50d", 14400), ("51d", 21600), ("93d", 21600), ("1440m", 300)])
def test_bin_sizes_follow_the_v6_table(admin, window, bin_size):
    body = data_of(admin, {"type": "Time Series: Line", **SR, "metric": "Score"}, window=window)
    assert body["reportDataComponentData"]["binSize"] == bin_size


def test_default_range_is_the_last_seven_days(admin, db):
    now = datetime.now(timezone.utc)
    db.score_reports.insert_many([
        {"aid": admin.aid, "status": "processed", "score": score, "type": "reference", "created_at": now - age}
        for score, age in ((600, timedelta(hours=2)), (700, timedelta(days=8)))])
    body = data_of(admin, {"type": "Time Series: Line", **SR, "metric": "Score"})
    start = datetime.strptime(body["from"], "%Y-%m-%d %H:%M:%S")
    end = datetime.strptime(body["to"], "%Y-%m-%d %H:%M:%S")
    assert end - start == timedelta(days=7)
    component = body["reportDataComponentData"]
    assert component["binSize"] == HOUR
    [datum] = component["data"]
    assert datum["value"] == 600 and datum["binId"] % HOUR == 0
    # The bin holds the report: it starts at most an hour before it.
    assert 0 <= (now - timedelta(hours=2)).timestamp() - datum["binId"] < HOUR


def test_pipelines_start_with_an_indexed_match_on_group_and_time(admin, db, monkeypatch):
    seen = []
    original = planner.Context.aggregate

    def spy(self, source, pipeline):
        seen.append((source.collection, pipeline))
        return original(self, source, pipeline)

    monkeypatch.setattr(planner.Context, "aggregate", spy)
    data_of(admin, {"type": "Time Series: Line", **SR, "metric": "Score", "groupBy": "User",
                    "filters": {"Status": ["processed"]}}, **TWO_DAYS)
    [(collection, pipeline)] = seen
    assert collection == "score_reports"
    first = pipeline[0]["$match"]
    assert set(first) == {"aid", "created_at"}
    assert first["aid"] == admin.aid and set(first["created_at"]) == {"$gte", "$lte"}
    assert pipeline[1]["$match"] == {"status": {"$in": ["processed"]}, "score": {"$type": "number"}}
    assert "$group" in pipeline[-1]
    # The database answers it from the (aid, created_at) index, not a collection scan.
    plan = str(db.command("explain", {"aggregate": "score_reports", "pipeline": pipeline, "cursor": {}}))
    assert "aid_1_created_at_-1" in plan and "COLLSCAN" not in plan


def test_cards_of_one_source_and_range_share_one_aggregation(seeded, monkeypatch):
    calls = []
    original = planner.Context.aggregate
    monkeypatch.setattr(planner.Context, "aggregate",
                        lambda self, source, pipeline: calls.append(source.name) or original(self, source, pipeline))
    body = data_of(seeded["admin"], {"type": "Number", "numberCards": [
        {"id": "cnt01", **SR, "metric": "Report Count"},
        {"id": "mean1", **SR, "metric": "Score"},
        {"id": "medi1", **SR, "metric": "Score", "measure": {"type": "Median"}, "filters": {"Score Version": ["1"]}},
        {"id": "auc01", "dataSource": "Trainings", "metric": "AUC"},
        {"id": "lastd", **SR, "metric": "Report Count", "fixedTimespan": "86400"},
    ]}, **TWO_DAYS)
    assert sorted(calls) == ["Score Reports", "Score Reports", "Trainings"]  # two ranges of reports, one of trainings
    cards = {c["cardId"]: c["value"] for c in body["reportDataComponentData"]["data"]}
    first_day = scores(seeded["docs"][:24])
    assert cards == {"cnt01": 48, "mean1": 615, "medi1": nearest_rank(first_day, 0.5), "auc01": None, "lastd": 24}


def test_the_default_range_ends_after_now_so_a_report_stored_this_second_counts():
    from maiascore.dashboards.timerange import parse_time_range

    now = datetime(2024, 3, 4, 12, 0, 0, 250000, tzinfo=timezone.utc)
    stored = now - timedelta(milliseconds=100)  # created a moment ago, in the same second
    span = parse_time_range(window="1h", now=now)
    assert span.start <= stored < span.end
    exact = datetime(2024, 3, 4, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_time_range(window="1h", now=exact).end == exact
