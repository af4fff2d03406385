"""/v7 dashboards driven by the official ThousandEyes SDK, unchanged, against a real HTTP server."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from thousandeyes_sdk.core import ApiClient, Configuration
from thousandeyes_sdk.core.exceptions import (BadRequestException, ForbiddenException, NotFoundException,
                                              ServiceException, UnauthorizedException)
from thousandeyes_sdk.dashboards import DashboardSnapshotsApi, DashboardsApi, DashboardsFiltersApi
from thousandeyes_sdk.dashboards.models import (ApiContextFilterRequest, ApiDataSourceFilter, ApiDataSourceFilters,
                                                ApiDuration, ApiMultiMetricColumn, ApiMultiMetricTableWidget,
                                                ApiNumbersCard, ApiNumbersCardWidget, ApiTimeseriesWidget, ApiWidget,
                                                CloneDashboardRequest, Dashboard, GenerateDashboardSnapshotRequest, LegacyDurationUnit,
                                                UpdateSnapshotExpirationDateApiRequest, ValidationError,
                                                UnauthorizedError, Error, WidgetMeasureType, ApiWidgetMeasure)

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SCORES = (10, 20, 30, 40)


class Sdk:
    def __init__(self, server, token, aid):
        self.client = ApiClient(Configuration(host=server + "/v7", access_token=token))
        self.dashboards = DashboardsApi(self.client)
        self.snapshots = DashboardSnapshotsApi(self.client)
        self.filters = DashboardsFiltersApi(self.client)
        self.aid = str(aid)


@pytest.fixture
def sdk_for(server):
    def make(actor):
        return Sdk(server, actor.api_token(), actor.aid)
    return make


@pytest.fixture
def sdk(sdk_for, admin, db):
    db.score_reports.insert_many([
        {"aid": admin.aid, "status": "processed", "score": score, "type": "reference", "referenceId": f"r{score}",
         "created_at": NOW - timedelta(minutes=60 * index + 30)} for index, score in enumerate(SCORES)])
    return sdk_for(admin)


def line_widget(title="Mean score", **extra):
    return ApiWidget(ApiTimeseriesWidget(type="Time Series: Line", title=title,
                                         measure=ApiWidgetMeasure(type=WidgetMeasureType.MEAN),
                                         maiascore={"dataSource": "Score Reports", "metric": "Score"}, **extra))


def number_widget():
    return ApiWidget(ApiNumbersCardWidget(type="Number", title="Totals", number_cards=[
        ApiNumbersCard(id="cnt01", description="Reports",
                       maiascore={"dataSource": "Score Reports", "metric": "Report Count"}),
        ApiNumbersCard(id="max01", description="Best score", measure=ApiWidgetMeasure(type=WidgetMeasureType.MAXIMUM),
                       fixed_timespan=ApiDuration(value=2, unit=LegacyDurationUnit.HOURS),
                       maiascore={"dataSource": "Score Reports", "metric": "Score"}),
    ]))


def create(sdk, title="From the SDK", widgets=None):
    widgets = [line_widget(), number_widget()] if widgets is None else widgets
    return sdk.dashboards.create_dashboard(Dashboard(title=title, description="made by the SDK", widgets=widgets),
                                           aid=sdk.aid)


def ext(widget):
    return widget.actual_instance.model_extra["maiascore"]


# --- dashboards --------------------------------------------------------------------------


def test_create_get_list_with_maiascore_metrics(sdk, admin):
    created = create(sdk)
    assert created.dashboard_id.isdigit() and created.title == "From the SDK"
    assert created.aid == str(admin.aid) and created.created_by == str(admin.id)
    assert created.modified_date.tzinfo is not None and abs(created.modified_date - datetime.now(timezone.utc)) < timedelta(minutes=5)
    line, number = (w.actual_instance for w in created.widgets)
    assert line.type == "Time Series: Line" and line.id and line.measure.type == WidgetMeasureType.MEAN
    assert ext(created.widgets[0]) == {"widgetId": line.id, "dataSource": "Score Reports", "metric": "Score"}
    assert line.show_zoom_slider is False  # the SDK's default, kept for the round trip
    assert [c.id for c in number.number_cards] == ["cnt01", "max01"]
    assert number.number_cards[1].fixed_timespan.value == 2 and number.number_cards[1].fixed_timespan.unit == "Hours"
    assert number.number_cards[0].model_extra["maiascore"]["metric"] == "Report Count"
    assert created.links.var_self.href.endswith(f"/v7/dashboards/{created.dashboard_id}?aid={admin.aid}")

    got = sdk.dashboards.get_dashboard(created.dashboard_id, aid=sdk.aid)
    assert got.account_id == admin.aid and got.created_by == admin.id and got.dashboard_created_by == str(admin.id)
    assert got.dashboard_modified_date == created.modified_date
    assert [w.actual_instance.id for w in got.widgets] == [line.id, number.id]
    assert got.links.snapshots.href.endswith(f"dashboardId={created.dashboard_id}&aid={admin.aid}")

    listed = sdk.dashboards.get_dashboards(aid=sdk.aid)
    titles = [d.title for d in listed]
    assert titles[:2] == ["Scoring overview", "Model overview"] and "From the SDK" in titles
    assert all(d.is_private is False for d in listed)


def test_update_keeps_widget_ids_and_extra_fields(sdk):
    created = create(sdk)
    ids = [w.actual_instance.id for w in created.widgets]
    got = sdk.dashboards.get_dashboard(created.dashboard_id, aid=sdk.aid)
    # Edit what the GET answered and send it back, as an SDK user does; the SDK drops the ids.
    got.title = "Renamed"
    got.widgets[0].actual_instance.title = "Score, mean"
    got.widgets[0].actual_instance.show_zoom_slider = True
    got.widgets.append(line_widget(title="Added"))
    body = Dashboard.from_dict(got.to_dict())
    assert "id" not in body.to_dict()["widgets"][0]
    updated = sdk.dashboards.update_dashboard(created.dashboard_id, body, aid=sdk.aid)
    assert updated.title == "Renamed"
    new_ids = [w.actual_instance.id for w in updated.widgets]
    assert new_ids[:2] == ids and new_ids[2] not in ids
    assert updated.widgets[0].actual_instance.title == "Score, mean"
    assert updated.widgets[0].actual_instance.show_zoom_slider is True
    # Without the extension the position and the type keep the id.
    plain = [ApiWidget(ApiTimeseriesWidget(type="Time Series: Line", title="Only",
                                           maiascore={"dataSource": "Score Reports", "metric": "Report Count"}))]
    again = sdk.dashboards.update_dashboard(created.dashboard_id, Dashboard(title="Only", widgets=plain), aid=sdk.aid)
    assert [w.actual_instance.id for w in again.widgets] == [ids[0]]


def test_widget_data_by_window_and_by_dates_one_card_and_one_column(sdk):
    created = create(sdk)
    line_id, number_id = (w.actual_instance.id for w in created.widgets)
    data = sdk.dashboards.get_dashboard_widget_data(created.dashboard_id, line_id, aid=sdk.aid, window="1d")
    assert data.bin_size == 300 and data.end_date - data.start_date == timedelta(days=1)
    points = data.data.points
    assert sorted(p.value for p in points) == list(SCORES) and all(p.number_of_data_points == 1 for p in points)

    start, end = NOW - timedelta(hours=2), NOW
    by_dates = sdk.dashboards.get_dashboard_widget_data(created.dashboard_id, line_id, aid=sdk.aid,
                                                        start_date=start, end_date=end)
    assert by_dates.start_date == start and by_dates.end_date == end
    assert sorted(p.value for p in by_dates.data.points) == [10, 20]

    cards = sdk.dashboards.get_dashboard_widget_data(created.dashboard_id, number_id, aid=sdk.aid, window="1d")
    assert [(c.card_id, c.value) for c in cards.data.cards] == [("cnt01", 4), ("max01", 20)]
    card = sdk.dashboards.get_individual_card_data(created.dashboard_id, number_id, "max01", aid=sdk.aid,
                                                   window="1d")
    assert card.card_id == "max01" and card.value == 20 and card.bin_size == 7200 and card.card_name == "Best score"

    table = ApiWidget(ApiMultiMetricTableWidget(type="Multi Metric Table", title="By status", multi_metric_columns=[
        ApiMultiMetricColumn(id="colsc", measure=ApiWidgetMeasure(type=WidgetMeasureType.MEAN),
                             maiascore={"dataSource": "Score Reports", "metric": "Score"}),
        ApiMultiMetricColumn(id="colct", maiascore={"dataSource": "Score Reports", "metric": "Report Count"}),
    ], maiascore={"groupBy": "Status"}))
    with_table = create(sdk, "Table", [table])
    table_id = with_table.widgets[0].actual_instance.id
    column = sdk.dashboards.get_individual_column_data(with_table.dashboard_id, table_id, "colct", aid=sdk.aid,
                                                       window="1d")
    assert column.column_id == "colct"
    assert [(p.value, p.groups[0].group_property, p.groups[0].group_value) for p in column.points] == [
        (4, "Status", "processed")]
    with pytest.raises(NotFoundException):
        sdk.dashboards.get_individual_card_data(created.dashboard_id, number_id, "nope1", aid=sdk.aid)


def test_clone_and_delete(sdk):
    created = create(sdk)
    clone = sdk.dashboards.clone_dashboard(created.dashboard_id, aid=sdk.aid,
                                           clone_dashboard_request=CloneDashboardRequest(title="Twin"))
    assert clone.title == "Twin" and clone.dashboard_id != created.dashboard_id
    assert [ext(w)["widgetId"] for w in clone.widgets] == [ext(w)["widgetId"] for w in created.widgets]
    builtin = sdk.dashboards.get_dashboards(aid=sdk.aid)[0]
    editable = sdk.dashboards.clone_dashboard(builtin.dashboard_id, aid=sdk.aid)
    assert editable.title == "Scoring overview (copy)" and editable.is_built_in is False

    assert sdk.dashboards.delete_dashboard(clone.dashboard_id, aid=sdk.aid) is None
    with pytest.raises(NotFoundException) as raised:
        sdk.dashboards.get_dashboard(clone.dashboard_id, aid=sdk.aid)
    assert isinstance(raised.value.data, Error) and raised.value.data.status == 404


def test_snapshots_create_list_data_expiry_delete(sdk, admin):
    created = create(sdk)
    line_id = created.widgets[0].actual_instance.id
    made = sdk.snapshots.create_dashboard_snapshot(GenerateDashboardSnapshotRequest(
        dashboard_id=created.dashboard_id, display_name="Frozen", start_date=NOW - timedelta(days=1), end_date=NOW),
        aid=sdk.aid)
    assert made.snapshot_id and made.links.var_self.href.endswith(f"/v7/dashboard-snapshots/{made.snapshot_id}"
                                                                  f"?aid={admin.aid}")
    page = sdk.snapshots.get_dashboard_snapshots(aid=sdk.aid, dashboard_id=created.dashboard_id)
    assert [s.snapshot_id for s in page.dashboard_snapshots] == [made.snapshot_id]
    assert page.links.next is None
    one = sdk.snapshots.get_dashboard_snapshot(made.snapshot_id, aid=sdk.aid)
    assert one.snapshot_name == "Frozen" and one.dashboard.dashboard_id == created.dashboard_id
    assert one.time_span.duration == 86400 and [w.actual_instance.id for w in one.widgets][0] == line_id
    data = sdk.snapshots.get_dashboard_snapshot_widget_data(made.snapshot_id, line_id, aid=sdk.aid)
    assert sorted(p.value for p in data.data.points) == list(SCORES)

    later = NOW + timedelta(days=30)
    sdk.snapshots.update_dashboard_snapshot_expiration_date(
        made.snapshot_id, UpdateSnapshotExpirationDateApiRequest(snapshot_expiration_date=later), aid=sdk.aid)
    assert sdk.snapshots.get_dashboard_snapshot(made.snapshot_id, aid=sdk.aid).snapshot_expiration_date == later

    sdk.snapshots.delete_dashboard_snapshot(made.snapshot_id, aid=sdk.aid)
    with pytest.raises(NotFoundException):
        sdk.snapshots.get_dashboard_snapshot(made.snapshot_id, aid=sdk.aid)


def test_an_expired_snapshot_is_gone(sdk):
    created = create(sdk)
    made = sdk.snapshots.create_dashboard_snapshot(GenerateDashboardSnapshotRequest(
        dashboard_id=created.dashboard_id), aid=sdk.aid)
    sdk.snapshots.update_dashboard_snapshot_expiration_date(
        made.snapshot_id, UpdateSnapshotExpirationDateApiRequest(snapshot_expiration_date=NOW - timedelta(hours=1)),
        aid=sdk.aid)
    with pytest.raises(NotFoundException):
        sdk.snapshots.get_dashboard_snapshot(made.snapshot_id, aid=sdk.aid)
    assert sdk.snapshots.get_dashboard_snapshots(aid=sdk.aid).dashboard_snapshots == []


def test_dashboard_filters_crud(sdk):
    request = ApiContextFilterRequest(name="Processed", description="only processed", context=[
        ApiDataSourceFilters(data_source_id="Score Reports", filters=[
            ApiDataSourceFilter(filter_id="Status", values=["processed"], metric_ids=["Score"])])])
    made = sdk.filters.create_dashboard_filter(request, aid=sdk.aid)
    assert made.name == "Processed" and made.context[0].filters[0].values == ["processed"]
    assert sdk.filters.get_dashboard_filter(made.id, aid=sdk.aid).description == "only processed"
    request.name = "Renamed"
    assert sdk.filters.update_dashboard_filter(made.id, request, aid=sdk.aid).name == "Renamed"
    assert [f.id for f in sdk.filters.get_dashboards_filters(aid=sdk.aid, search_pattern="renam").dashboard_filters] \
        == [made.id]
    sdk.filters.delete_dashboard_filter(made.id, aid=sdk.aid)
    with pytest.raises(NotFoundException):
        sdk.filters.get_dashboard_filter(made.id, aid=sdk.aid)


def test_schedules_answer_501_problem(sdk):
    created = create(sdk)
    with pytest.raises(ServiceException) as raised:
        sdk.dashboards.delete_dashboard_schedule(created.dashboard_id, aid=sdk.aid)
    problem = json.loads(raised.value.body)  # the SDK models no 501 body: it keeps the text
    assert raised.value.status == 501 and problem["status"] == 501 and "not implemented" in problem["detail"]


# --- both families, one store ------------------------------------------------------------


def test_v7_dashboard_reads_back_through_v6(sdk, admin):
    created = create(sdk)
    report = admin.get(f"/v6/reports/{created.dashboard_id}").get_json()
    assert report["title"] == "From the SDK" and report["reportId"] == created.dashboard_id
    line, number = report["widgets"]
    assert line["id"] == created.widgets[0].actual_instance.id
    assert (line["dataSource"], line["metric"], line["measure"]) == ("Score Reports", "Score", {"type": "Mean"})
    assert [c["id"] for c in number["numberCards"]] == ["cnt01", "max01"]
    assert number["numberCards"][1]["fixedTimespan"] == "7200"


def test_v6_report_reads_back_through_v7(sdk, admin):
    r = admin.post("/v6/reports/create", json={"title": "From v6", "widgets": [
        {"id": "pie01", "type": "Pie Chart", "dataSource": "Score Reports", "metric": "Report Count",
         "groupBy": "Status", "fixedTimespan": "90"}]})
    assert r.status_code == 200, r.get_json()
    report_id = r.get_json()[0]["reportId"]
    got = sdk.dashboards.get_dashboard(report_id, aid=sdk.aid)
    pie = got.widgets[0].actual_instance
    assert pie.type == "Pie Chart" and pie.id == "pie01"
    assert ext(got.widgets[0]) == {"widgetId": "pie01", "dataSource": "Score Reports", "metric": "Report Count",
                                   "groupBy": "Status", "fixedTimespanSeconds": 90}
    data = sdk.dashboards.get_dashboard_widget_data(report_id, "pie01", aid=sdk.aid, window="1d")
    assert data.data.points == []  # the last 90 seconds hold no report


# --- errors, parsed by the SDK ----------------------------------------------------------


def test_400_problem_with_field_errors(sdk):
    with pytest.raises(BadRequestException) as raised:
        sdk.dashboards.create_dashboard(Dashboard(description="no title"), aid=sdk.aid)
    problem = raised.value.data
    assert isinstance(problem, ValidationError) and problem.status == 400 and problem.title == "Bad Request"
    assert problem.instance.startswith("/v7/dashboards")
    assert [(e.code, e.var_field) for e in problem.errors] == [("REQUIRED", "title")]
    assert dict(raised.value.headers)["Content-Type"].startswith("application/problem+json")

    with pytest.raises(BadRequestException) as raised:
        create(sdk, widgets=[ApiWidget(ApiTimeseriesWidget(type="Time Series: Line",
                                                          maiascore={"dataSource": "Weather", "metric": "Score"}))])
    assert "dataSource 'Weather' is not supported" in raised.value.data.detail
    assert raised.value.data.errors[0].message

    created = create(sdk)
    with pytest.raises(BadRequestException) as raised:
        sdk.dashboards.get_dashboard_widget_data(created.dashboard_id, created.widgets[0].actual_instance.id,
                                                 aid=sdk.aid, window="1d", start_date=NOW - timedelta(hours=1))
    assert raised.value.data.errors[0].var_field == "window"


def test_401_oauth_body(server, sdk):
    bad = Sdk(server, "not-a-token", sdk.aid)
    with pytest.raises(UnauthorizedException) as raised:
        bad.dashboards.get_dashboards()
    assert isinstance(raised.value.data, UnauthorizedError)
    assert raised.value.data.error == "invalid_token" and raised.value.data.error_description
    missing = DashboardsApi(ApiClient(Configuration(host=server + "/v7")))
    with pytest.raises(UnauthorizedException) as raised:
        missing.get_dashboards()
    assert raised.value.data.error == "unauthorized"


def test_403_and_404_problems(sdk, sdk_for, make_actor, admin):
    created = create(sdk)
    reader = sdk_for(make_actor("Read Only", aid=admin.aid))
    assert reader.dashboards.get_dashboard(created.dashboard_id).title == "From the SDK"
    with pytest.raises(ForbiddenException) as raised:
        reader.dashboards.delete_dashboard(created.dashboard_id)
    problem = raised.value.data
    assert isinstance(problem, Error) and problem.status == 403 and "Edit Reports" in problem.detail
    other = sdk_for(make_actor("Regular User", aid=admin.aid))
    with pytest.raises(ForbiddenException):
        other.dashboards.update_dashboard(created.dashboard_id, Dashboard(title="Mine now"))
    stranger = sdk_for(make_actor("Account Admin"))
    with pytest.raises(NotFoundException) as raised:
        stranger.dashboards.get_dashboard(created.dashboard_id)
    assert raised.value.data.status == 404 and raised.value.data.instance == f"/v7/dashboards/{created.dashboard_id}"
    with pytest.raises(BadRequestException):  # an account group the caller is not in
        stranger.dashboards.get_dashboards(aid=sdk.aid)


def test_negotiation_and_openapi(client, admin, sdk):
    token = admin.api_token()
    headers = {"Authorization": f"Bearer {token}"}
    r = client.get("/v7/dashboards", headers={**headers, "Accept": "application/hal+json"})
    assert r.status_code == 200 and r.mimetype == "application/hal+json"
    r = client.get("/v7/dashboards", headers={**headers, "Accept": "application/xml"})
    assert r.status_code == 406 and r.mimetype == "application/problem+json" and r.get_json()["status"] == 406
    assert client.get("/v6/reports", headers={**headers, "Accept": "application/hal+json"}).status_code == 406
    spec = client.get("/openapi.json").get_json()
    assert "/v7/dashboards/{dashboard_id}/widgets/{widget_id}" in spec["paths"]
    assert "/v7/dashboard-snapshots" in spec["paths"]
    assert "application/hal+json" in spec["paths"]["/v7/dashboards"]["get"]["responses"]["200"]["content"]
