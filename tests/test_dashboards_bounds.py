"""Stored dashboards have bounds, on /v6 and /v7 alike: body size, widgets per dashboard, cards or
columns per widget, and the size of the unknown properties /v7 keeps. Past one: 413 or 400 naming it,
nothing stored."""
import io
import json
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"

SCORE = {"dataSource": "Score Reports", "metric": "Score", "measure": {"type": "Mean"}}
V7_SCORE = {"maiascore": {"dataSource": "Score Reports", "metric": "Score"}, "measure": {"type": "MEAN"}}
PROBLEM = "application/problem+json"


def v6_line(**extra):
    return {"type": "Time Series: Line", **SCORE, **extra}


def v7_line(**extra):
    return {"type": "Time Series: Line", **V7_SCORE, **extra}


def v6_number(cards):
    return {"type": "Number", "numberCards": [dict(SCORE) for _ in range(cards)]}


def v7_number(cards):
    return {"type": "Number", "numberCards": [dict(V7_SCORE) for _ in range(cards)]}


def v6_table(columns):
    return {"type": "Multi Metric Table", "multiMetricColumns": [dict(SCORE) for _ in range(columns)]}


def v7_table(columns):
    return {"type": "Multi Metric Table", "multiMetricColumns": [dict(V7_SCORE) for _ in range(columns)]}


def count(actor):
    return len(actor.get("/v6/reports").get_json())


def v6_create(actor, body):
    return actor.post("/v6/reports/create", json=body)


def v6_update(actor, body):
    created = actor.post("/v6/reports/create", json={"title": "Kept"})
    assert created.status_code == 200, created.get_json()
    return actor.post(f"/v6/reports/{created.get_json()[0]['reportId']}/update", json=body)


def v7_create(actor, body):
    return actor.post("/v7/dashboards", json=body)


def v7_update(actor, body):
    created = actor.post("/v7/dashboards", json={"title": "Kept"})
    assert created.status_code == 201, created.get_json()
    return actor.put(f"/v7/dashboards/{created.get_json()['dashboardId']}", json=body)


V6 = [v6_create, v6_update]
V7 = [v7_create, v7_update]


def refused(answer, status, setting, v7):
    assert answer.status_code == status, answer.get_json()
    body = answer.get_json()
    if v7:
        assert answer.mimetype == PROBLEM and body["status"] == status and setting in body["detail"], body
    else:
        assert body["code"] == status and setting in body["message"], body
    return body


@pytest.mark.parametrize("send", V6 + V7)
def test_widgets_per_dashboard_are_bounded(cfg, admin, send):
    cfg.DASHBOARD_MAX_WIDGETS = 3
    line = v7_line if send in V7 else v6_line
    assert send(admin, {"title": "Three", "widgets": [line() for _ in range(3)]}).status_code in (200, 201)
    before = count(admin)
    body = refused(send(admin, {"title": "Four", "widgets": [line() for _ in range(4)]}), 400,
                   "DASHBOARD_MAX_WIDGETS", send in V7)
    assert "4 widgets" in json.dumps(body) and "at most 3" in json.dumps(body)
    if send in V7:
        assert [e["field"] for e in body["errors"]] == ["widgets"]
    assert count(admin) == before + (1 if send in (v6_update, v7_update) else 0)  # only the report updated
    assert "Four" not in {r["title"] for r in admin.get("/v6/reports").get_json()}


@pytest.mark.parametrize("send", V6 + V7)
@pytest.mark.parametrize("kind", ["cards", "columns"])
def test_cards_and_columns_per_widget_are_bounded(cfg, admin, send, kind):
    cfg.DASHBOARD_MAX_WIDGET_PARTS = 4
    v7 = send in V7
    make = {("cards", False): v6_number, ("cards", True): v7_number,
            ("columns", False): v6_table, ("columns", True): v7_table}[(kind, v7)]
    assert send(admin, {"title": "Four", "widgets": [make(4)]}).status_code in (200, 201)
    body = refused(send(admin, {"title": "Five", "widgets": [make(5)]}), 400, "DASHBOARD_MAX_WIDGET_PARTS", v7)
    assert "at most 4" in json.dumps(body)


@pytest.mark.parametrize("send", V6 + V7)
def test_the_body_of_a_dashboard_is_bounded(cfg, admin, send):
    cfg.DASHBOARD_MAX_BYTES = 4096
    line = v7_line if send in V7 else v6_line
    fits = {"title": "Fits", "description": "x" * 2000, "widgets": [line()]}
    assert send(admin, fits).status_code in (200, 201)
    before = count(admin)
    big = {"title": "Too big", "description": "x" * 3000, "widgets": [line(title="y" * 2000)]}
    refused(send(admin, big), 413, "DASHBOARD_MAX_BYTES", send in V7)
    assert count(admin) == before + (1 if send in (v6_update, v7_update) else 0)


def test_a_body_without_a_length_is_bounded_too(cfg, admin):
    """Chunked transfer (no Content-Length): reading stops at the bound."""
    cfg.DASHBOARD_MAX_BYTES = 4096
    raw = json.dumps({"title": "Chunked", "description": "x" * 10000}).encode()
    for path, v7 in (("/v6/reports/create", False), ("/v7/dashboards", True)):
        answer = admin.post(path, input_stream=io.BytesIO(raw),
                            headers={"Content-Type": "application/json"},
                            environ_overrides={"wsgi.input_terminated": True})
        refused(answer, 413, "DASHBOARD_MAX_BYTES", v7)
    assert "Chunked" not in {r["title"] for r in admin.get("/v6/reports").get_json()}


@pytest.mark.parametrize("send", V7)
def test_unknown_properties_v7_keeps_are_bounded(cfg, admin, send):
    """The round trip keeps what the SDK adds, within DASHBOARD_MAX_EXTRA_BYTES for a dashboard and its widgets."""
    cfg.DASHBOARD_MAX_EXTRA_BYTES = 2000
    kept = send(admin, {"title": "Kept", "extra": "k" * 900, "widgets": [v7_line(widgetExtra="w" * 900)]})
    assert kept.status_code in (200, 201), kept.get_json()
    got = admin.get(f"/v7/dashboards/{kept.get_json()['dashboardId']}").get_json()
    assert got["extra"] == "k" * 900 and got["widgets"][0]["widgetExtra"] == "w" * 900
    for body in ({"title": "Top", "extra": "k" * 2001},
                 {"title": "Spread", "extra": "k" * 1000, "widgets": [v7_line(widgetExtra="w" * 1000)]},
                 {"title": "Card", "widgets": [{"type": "Number", "numberCards": [dict(V7_SCORE, c="c" * 2001)]}]}):
        refused(send(admin, body), 400, "DASHBOARD_MAX_EXTRA_BYTES", True)
    titles = {r["title"] for r in admin.get("/v6/reports").get_json()}
    assert not titles & {"Top", "Spread", "Card"}


def test_the_audit_bodies_are_refused(admin):
    """A 14.7 MB body with one extra property, and 10,000 widgets in a body the size bound lets through."""
    before = count(admin)
    huge = admin.post("/v7/dashboards", data=json.dumps({"title": "Huge", "extra": "x" * (14_700_000)}),
                      content_type="application/json")
    refused(huge, 413, "DASHBOARD_MAX_BYTES", True)
    many = [{"type": "Number"} for _ in range(10_000)]
    refused(admin.post("/v7/dashboards", json={"title": "Many", "widgets": many}), 400, "DASHBOARD_MAX_WIDGETS", True)
    refused(admin.post("/v6/reports/create", json={"title": "Many", "widgets": many}), 400, "DASHBOARD_MAX_WIDGETS",
            False)
    assert count(admin) == before


def test_the_bounds_are_documented():
    text = "\n".join((DOCS / name).read_text() for name in ("operations.md", "dashboards.md", "dashboards-v7.md"))
    for setting in ("DASHBOARD_MAX_BYTES", "DASHBOARD_MAX_WIDGETS", "DASHBOARD_MAX_WIDGET_PARTS",
                    "DASHBOARD_MAX_EXTRA_BYTES"):
        assert setting in text
