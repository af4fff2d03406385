"""Every /v7 answer held against the OpenAPI document that describes it: ``mapping`` builds the answers
(they keep the fields a client sent that MaiaScore does not know), ``v7/schemas.py`` documents them; this
test calls each v7 operation and checks the answer against its documented schema, with no field the
document does not name."""
from datetime import datetime, timedelta, timezone

import pytest
from openapi_schema_validator import OAS30Validator

from maiascore.alerts import evaluation

CALLED = set()


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()


def _resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _undeclared(spec, schema, value, where):
    """Keys of ``value`` that ``schema`` does not declare (objects with properties only: a free map is free)."""
    schema = _resolve(spec, schema)
    for part in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _undeclared(spec, part, value, where)
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                yield f"{where}.{key}"
            else:
                yield from _undeclared(spec, schema["properties"][key], item, f"{where}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from _undeclared(spec, schema["items"], item, f"{where}[{index}]")


def check(spec, actor, method, template, status, path=None, json=None, query=None):
    url = "/v7" + template.format(**(path or {}))
    answer = actor._call(method, url, json=json, query_string={"aid": actor.aid, **(query or {})})
    assert answer.status_code == status, (method, url, answer.get_data(as_text=True))
    operation = spec["paths"]["/v7" + template][method]
    CALLED.add((method, "/v7" + template))
    documented = operation["responses"][str(status)]
    if status == 204:
        assert not answer.data
        return None
    content_type = answer.mimetype
    assert content_type in documented["content"], (method, template, content_type)
    schema = documented["content"][content_type]["schema"]
    body = answer.get_json()
    OAS30Validator({**schema, "components": spec["components"]}).validate(body)
    extra = list(_undeclared(spec, schema, body, "answer"))
    assert not extra, f"{method.upper()} {template} answers fields its schema does not document: {extra}"
    return body


WIDGETS = [
    {"type": "Time Series: Line", "title": "Mean score", "measure": {"type": "MEAN"},
     "maiascore": {"dataSource": "Score Reports", "metric": "Score"}},
    {"type": "Number", "title": "Totals", "numberCards": [
        {"id": "cnt01", "description": "Reports", "maiascore": {"dataSource": "Score Reports",
                                                                 "metric": "Report Count"}}]},
    {"type": "Multi Metric Table", "title": "By status", "multiMetricColumns": [
        {"id": "colct", "maiascore": {"dataSource": "Score Reports", "metric": "Report Count"}}],
     "maiascore": {"groupBy": "Status"}},
]


RULE = {"ruleName": "Failure rate", "expression": "((failureRate >= 20%))", "alertType": "api",
        "roundsViolatingOutOf": 1, "severity": "critical", "notifyOnClear": True, "description": "too many failures",
        "maiascore": {"windowSeconds": 600, "minimumCount": 2}}
# port 9 (discard) on 127.0.0.1: nothing listens, and nothing is sent beyond this machine
CONNECTOR = {"type": "generic", "name": "receiver", "target": "http://127.0.0.1:9/hooks",
             "headers": [{"name": "X-Team", "value": "risk"}]}
OPERATION = {"name": "alerts to receiver", "category": "alerts", "status": "pending", "path": "/maiascore"}


def check_alerts(spec, admin, db, app):
    """The alerts package's operations: a rule notifying a webhook raises an alert on real reports."""
    connector = check(spec, admin, "post", "/connectors/generic", 201, json=CONNECTOR)
    con = {"connector_id": connector["id"]}
    check(spec, admin, "get", "/connectors/generic", 200)
    check(spec, admin, "get", "/connectors/generic/{connector_id}", 200, con)
    check(spec, admin, "put", "/connectors/generic/{connector_id}", 200, con, json=dict(CONNECTOR, name="renamed"))
    operation = check(spec, admin, "post", "/operations/webhooks", 201, json=OPERATION)
    op = {"operation_id": operation["id"]}
    check(spec, admin, "get", "/operations/webhooks", 200)
    check(spec, admin, "get", "/operations/webhooks/{operation_id}", 200, op)
    check(spec, admin, "put", "/operations/webhooks/{operation_id}", 200, op, json=dict(OPERATION, name="renamed"))
    assigned = check(spec, admin, "put", "/operations/{kind}/{operation_id}/connectors", 200,
                     {**op, "kind": "webhooks"}, json=[connector["id"]])
    assert assigned["items"] == [connector["id"]]
    check(spec, admin, "get", "/operations/{kind}/{operation_id}/connectors", 200, {**op, "kind": "webhooks"})
    check(spec, admin, "get", "/connectors/generic/{connector_id}/operations", 200, con)
    check(spec, admin, "put", "/connectors/generic/{connector_id}/operations", 200, con, json=[operation["id"]])

    notifications = {"webhook": [{"integrationId": operation["id"], "integrationType": "webhook"}],
                     "email": {"recipients": ["ops@example.com"]}}
    rule = check(spec, admin, "post", "/alerts/rules", 201, json=dict(RULE, notifications=notifications))
    ids = {"rule_id": rule["ruleId"]}
    check(spec, admin, "get", "/alerts/rules", 200)
    check(spec, admin, "get", "/alerts/rules/{rule_id}", 200, ids)
    check(spec, admin, "put", "/alerts/rules/{rule_id}", 200, ids, json=dict(RULE, notifications=notifications,
                                                                                 ruleName="Failures"))
    cadence = 60
    tick = int(datetime.now(timezone.utc).timestamp() // cadence) - 20
    at = evaluation.tick_time(tick, cadence)
    db.score_reports.insert_many([{"aid": admin.aid, "status": status, "type": "reference", "referenceId": f"a{i}",
                                   "created_at": at - timedelta(seconds=30 + i)}
                                  for i, status in enumerate(["failed", "failed", "processed", "processed"])])
    with app.app_context():
        evaluation.evaluate_group(admin.aid, tick, cadence)
    [alert] = check(spec, admin, "get", "/alerts", 200)["alerts"]
    check(spec, admin, "get", "/alerts/{alert_id}", 200, {"alert_id": alert["id"]})
    check(spec, admin, "get", "/alerts/{alert_id}", 404, {"alert_id": "unknown"})
    deliveries = check(spec, admin, "get", "/alerts/deliveries", 200)["deliveries"]
    assert deliveries, "the alert's notifications are logged"

    check(spec, admin, "delete", "/alerts/rules/{rule_id}", 204, ids)
    check(spec, admin, "delete", "/operations/webhooks/{operation_id}", 204, op)
    check(spec, admin, "delete", "/connectors/generic/{connector_id}", 204, con)


def test_every_v7_answer_matches_its_documented_schema(spec, admin, db, app, cfg):
    now = datetime.now(timezone.utc)
    db.score_reports.insert_many([{"aid": admin.aid, "status": "processed", "score": 600 + i, "type": "reference",
                                   "created_at": now - timedelta(minutes=30 * i)} for i in range(5)])
    made = check(spec, admin, "post", "/dashboards", 201, json={"title": "Held", "widgets": WIDGETS})
    ids = {"dashboard_id": made["dashboardId"]}
    check(spec, admin, "get", "/dashboards", 200)
    got = check(spec, admin, "get", "/dashboards/{dashboard_id}", 200, ids)
    check(spec, admin, "put", "/dashboards/{dashboard_id}", 200, ids, json={"title": "Held too",
                                                                            "widgets": WIDGETS})
    check(spec, admin, "post", "/dashboards/{dashboard_id}/clone", 201, ids, json={"title": "Copy"})
    line, number, table = (w["id"] for w in got["widgets"])
    window = {"window": "1d"}
    check(spec, admin, "get", "/dashboards/{dashboard_id}/widgets/{widget_id}", 200,
          {**ids, "widget_id": line}, query=window)
    check(spec, admin, "get", "/dashboards/{dashboard_id}/widgets/{widget_id}/cards/{card_id}", 200,
          {**ids, "widget_id": number, "card_id": "cnt01"}, query=window)
    check(spec, admin, "get", "/dashboards/{dashboard_id}/widgets/{widget_id}/columns/{column_id}", 200,
          {**ids, "widget_id": table, "column_id": "colct"}, query=window)

    snapshot = check(spec, admin, "post", "/dashboard-snapshots", 201,
                     json={"dashboardId": made["dashboardId"], "displayName": "Frozen"})
    snap = {"snapshot_id": snapshot["snapshotId"]}
    check(spec, admin, "get", "/dashboard-snapshots", 200, query={"dashboardId": made["dashboardId"]})
    check(spec, admin, "get", "/dashboard-snapshots/{snapshot_id}", 200, snap)
    check(spec, admin, "get", "/dashboard-snapshots/{snapshot_id}/widgets/{widget_id}", 200,
          {**snap, "widget_id": line})
    later = (now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    check(spec, admin, "patch", "/dashboard-snapshots/{snapshot_id}", 204, snap,
          json={"snapshotExpirationDate": later})
    check(spec, admin, "delete", "/dashboard-snapshots/{snapshot_id}", 204, snap)

    context = [{"dataSourceId": "score-reports", "filters": [{"filterId": "status", "values": ["processed"],
                                                              "metricIds": ["score"]}]}]
    made_filter = check(spec, admin, "post", "/dashboards/filters", 201,
                        json={"name": "Processed", "context": context})
    flt = {"filter_id": made_filter["id"]}
    check(spec, admin, "get", "/dashboards/filters", 200)
    check(spec, admin, "get", "/dashboards/filters/{filter_id}", 200, flt)
    check(spec, admin, "put", "/dashboards/filters/{filter_id}", 200, flt,
          json={"name": "Processed only", "context": context})
    check(spec, admin, "delete", "/dashboards/filters/{filter_id}", 204, flt)

    check(spec, admin, "get", "/dashboards/{dashboard_id}", 404, {"dashboard_id": "999999"})
    check(spec, admin, "put", "/dashboards/{dashboard_id}/actions/schedule", 501, ids)
    check(spec, admin, "delete", "/dashboards/{dashboard_id}/actions/schedule", 501, ids)
    check(spec, admin, "delete", "/dashboards/{dashboard_id}", 204, ids)

    cfg.WEBHOOK_ALLOWED_HOSTS = "127.0.0.1"
    check_alerts(spec, admin, db, app)

    every = {(method, path) for path, item in spec["paths"].items() if path.startswith("/v7")
             for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert every <= CALLED, f"v7 operations this test does not hold: {sorted(every - CALLED)}"
