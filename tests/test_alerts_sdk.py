"""/v7 alert rules, alerts and webhook integrations driven by the official ThousandEyes SDKs, unchanged."""
import time
from datetime import datetime, timedelta, timezone

import pytest
from thousandeyes_sdk.alerts import AlertRulesApi, AlertsApi
from thousandeyes_sdk.alerts.models import (AlertNotification, NotificationEmail, NotificationWebhook,
                                            RuleDetailUpdate, Severity, State)
from thousandeyes_sdk.connectors import GenericConnectorsApi, OperationConnectorsApi, WebhookOperationsApi
from thousandeyes_sdk.connectors.models import (GenericConnector, Header, OperationCategory, OperationStatus,
                                                WebhookOperation)
from thousandeyes_sdk.core import ApiClient, Configuration
from thousandeyes_sdk.core.exceptions import BadRequestException, ForbiddenException, NotFoundException

from maiascore.alerts import evaluation, jobs, metrics
from maiascore.connections import get_db

NOW = datetime.now(timezone.utc)


class Sdk:
    def __init__(self, server, token, aid):
        self.client = ApiClient(Configuration(host=server + "/v7", access_token=token))
        self.rules = AlertRulesApi(self.client)
        self.alerts = AlertsApi(self.client)
        self.connectors = GenericConnectorsApi(self.client)
        self.operations = WebhookOperationsApi(self.client)
        self.assign = OperationConnectorsApi(self.client)
        self.aid = str(aid)


@pytest.fixture
def sdk_for(server, cfg):
    cfg.WEBHOOK_ALLOWED_HOSTS = "127.0.0.1"

    def make(actor):
        return Sdk(server, actor.api_token(), actor.aid)
    return make


def failure_rule(name="Failure rate", **extra):
    return RuleDetailUpdate(rule_name=name, expression="((failureRate >= 20%))", alert_type="api",
                            rounds_violating_out_of=1, severity=Severity.CRITICAL, notify_on_clear=True,
                            maiascore={"windowSeconds": 600, "minimumCount": 2}, **extra)


def test_rule_crud_with_the_sdk(sdk_for, admin):
    sdk = sdk_for(admin)
    created = sdk.rules.create_alert_rule(failure_rule(description="too many failures"), aid=sdk.aid)
    assert created.rule_id and created.rule_name == "Failure rate"
    assert created.expression == "((failureRate >= 20%))" and created.severity == Severity.CRITICAL
    assert created.model_extra["maiascore"]["dataSource"] == "Score Reports"
    assert created.model_extra["maiascore"]["metric"] == "Failure Rate"
    assert created.model_extra["maiascore"]["windowSeconds"] == 600

    listed = sdk.rules.get_alerts_rules(aid=sdk.aid)
    assert [r.rule_id for r in listed.alert_rules] == [created.rule_id]

    fetched = sdk.rules.get_alert_rule(created.rule_id, aid=sdk.aid)
    assert fetched.notify_on_clear is True and fetched.rounds_violating_out_of == 1

    update = RuleDetailUpdate(rule_name="Slow scoring", expression="((processingTime > 30 s))", alert_type="api",
                              rounds_violating_out_of=3, rounds_violating_required=2,
                              maiascore={"measure": {"type": "Median"}})
    updated = sdk.rules.update_alert_rule(created.rule_id, update, aid=sdk.aid)
    assert updated.expression == "((processingTime > 30))" and updated.rounds_violating_required == 2
    assert updated.model_extra["maiascore"]["measure"] == {"type": "Median"}

    sdk.rules.delete_alert_rule(created.rule_id, aid=sdk.aid)
    with pytest.raises(NotFoundException):
        sdk.rules.get_alert_rule(created.rule_id, aid=sdk.aid)


def test_rule_written_in_maiascore_words(sdk_for, admin):
    sdk = sdk_for(admin)
    rule = RuleDetailUpdate(rule_name="AUC drop", expression="", alert_type="api", rounds_violating_out_of=1,
                            maiascore={"dataSource": "Trainings", "metric": "AUC", "comparison": "<",
                                       "threshold": 0.7})
    created = sdk.rules.create_alert_rule(rule, aid=sdk.aid)
    assert created.expression == "((trainingAuc < 0.7))"


@pytest.mark.parametrize("body, field", [
    (dict(expression="((nonsense >= 5%))"), "expression"),
    (dict(expression="((failureRate >= 5%) && (reportCount > 3))"), "expression"),
    (dict(expression="((failureRate >= 5 s))"), "expression"),
    (dict(expression="((score >= 600))", maiascore={"measure": {"type": "Bogus"}}), None),
    (dict(expression="((failureRate >= 5%))", maiascore={"windowSeconds": 10 ** 9}), "maiascore.windowSeconds"),
    (dict(expression="((failureRate >= 5%))", rounds_violating_out_of=2, rounds_violating_required=3),
     "roundsViolatingRequired"),
])
def test_bad_rules_answer_400_naming_the_field(sdk_for, admin, body, field):
    sdk = sdk_for(admin)
    body.setdefault("rounds_violating_out_of", 1)
    with pytest.raises(BadRequestException) as raised:
        sdk.rules.create_alert_rule(RuleDetailUpdate(rule_name="bad", alert_type="api", **body), aid=sdk.aid)
    problem = raised.value.data
    assert raised.value.status == 400 and problem.detail
    if field:
        assert field in [e.var_field for e in problem.errors or ()] or field in problem.detail


def test_read_only_reads_and_only_admins_change(sdk_for, admin, make_actor):
    sdk = sdk_for(admin)
    created = sdk.rules.create_alert_rule(failure_rule(), aid=sdk.aid)
    for role in ("Read Only", "Regular User"):
        reader = sdk_for(make_actor(role, aid=admin.aid))
        assert [r.rule_id for r in reader.rules.get_alerts_rules(aid=reader.aid).alert_rules] == [created.rule_id]
        assert reader.alerts.get_alerts(aid=reader.aid).alerts == []
        with pytest.raises(ForbiddenException):
            reader.rules.create_alert_rule(failure_rule(), aid=reader.aid)
        with pytest.raises(ForbiddenException):
            reader.rules.delete_alert_rule(created.rule_id, aid=reader.aid)
    other = sdk_for(make_actor("Account Admin"))
    with pytest.raises(NotFoundException):
        other.rules.get_alert_rule(created.rule_id, aid=other.aid)
    with pytest.raises(NotFoundException):
        other.rules.delete_alert_rule(created.rule_id, aid=other.aid)
    assert other.rules.get_alerts_rules(aid=other.aid).alert_rules == []


def test_connectors_and_webhook_operations_with_the_sdk(sdk_for, admin):
    sdk = sdk_for(admin)
    connector = sdk.connectors.create_generic_connector(GenericConnector(
        type="generic", name="receiver", target="http://127.0.0.1:9/hooks",
        headers=[Header(name="X-Team", value="risk")]), aid=sdk.aid)
    secret = connector.model_extra["maiascore"]["signingSecret"]
    assert connector.id and len(secret) >= 16
    assert "maiascore" not in (sdk.connectors.get_generic_connector(connector.id, aid=sdk.aid).model_extra or {})
    operation = sdk.operations.create_webhook_operation(WebhookOperation(
        name="alerts to receiver", category=OperationCategory.ALERTS, status=OperationStatus.PENDING,
        path="/maiascore"), aid=sdk.aid)
    assigned = sdk.assign.set_operation_connectors("webhooks", operation.id, [connector.id], aid=sdk.aid)
    assert assigned.items == [connector.id]
    assert sdk.connectors.list_generic_connector_operations(connector.id, aid=sdk.aid).items == [operation.id]
    rule = sdk.rules.create_alert_rule(failure_rule(notifications=AlertNotification(
        webhook=[NotificationWebhook(integration_id=operation.id, integration_type="webhook")],
        email=NotificationEmail(recipients=["ops@example.com"]))), aid=sdk.aid)
    assert rule.notifications.webhook[0].integration_id == operation.id
    assert rule.notifications.email.recipients == ["ops@example.com"]
    with pytest.raises(BadRequestException):
        sdk.rules.create_alert_rule(failure_rule(notifications=AlertNotification(
            webhook=[NotificationWebhook(integration_id="nope")])), aid=sdk.aid)


def test_a_rule_fires_on_real_data_and_clears(sdk_for, admin, db, cfg):
    """Evaluation at two ticks, as the worker runs it: failures raise the alert, recovery clears it."""
    sdk = sdk_for(admin)
    rule = sdk.rules.create_alert_rule(failure_rule(), aid=sdk.aid)
    cadence = 60
    tick = int(NOW.timestamp() // cadence) - 20
    at = evaluation.tick_time(tick, cadence)
    db.score_reports.insert_many([{"aid": admin.aid, "status": status, "type": "reference", "referenceId": f"r{i}",
                                   "created_at": at - timedelta(seconds=30 + i)}
                                  for i, status in enumerate(["failed", "failed", "processed", "processed"])])
    evaluation.evaluate_group(admin.aid, tick, cadence)
    evaluation.evaluate_group(admin.aid, tick, cadence)  # twice: nothing changes
    [alert] = sdk.alerts.get_alerts(aid=sdk.aid).alerts
    assert alert.alert_state == State.TRIGGER and alert.alert_rule_id == rule.rule_id
    assert alert.model_extra["maiascore"]["startValue"] == 50.0
    detail = sdk.alerts.get_alert(alert.id, aid=sdk.aid)
    assert detail.state == State.TRIGGER and "failureRate: 50%" in detail.details[0].start.metrics
    # eleven minutes later the failures are out of the 10-minute window, four new reports all succeed
    later = tick + 11
    db.score_reports.insert_many([{"aid": admin.aid, "status": "processed", "type": "reference",
                                   "referenceId": f"ok{i}", "created_at": evaluation.tick_time(later, cadence)
                                   - timedelta(seconds=5 + i)} for i in range(4)])
    evaluation.evaluate_group(admin.aid, later, cadence)
    assert sdk.alerts.get_alerts(aid=sdk.aid, state="trigger").alerts == []  # none active
    [cleared] = sdk.alerts.get_alerts(aid=sdk.aid, state="clear").alerts
    assert cleared.id == alert.id and cleared.end_date is not None
    assert sdk.alerts.get_alert(alert.id, aid=sdk.aid).state == State.CLEAR


RULE = {"ruleName": "r", "expression": "((failureRate >= 5%))", "alertType": "api", "roundsViolatingOutOf": 1}


def test_bounds_answer_problems_naming_the_bound(admin, cfg):
    cfg.ALERT_RULES_PER_GROUP = 2
    cfg.ALERT_NOTIFICATIONS_PER_RULE = 2
    cfg.WEBHOOK_CONNECTORS_PER_GROUP = 1
    cfg.WEBHOOK_ALLOWED_HOSTS = "127.0.0.1"
    for _ in range(2):
        assert admin.post("/v7/alerts/rules", json=RULE).status_code == 201
    r = admin.post("/v7/alerts/rules", json=RULE)
    assert r.status_code == 409 and r.mimetype == "application/problem+json"
    assert "ALERT_RULES_PER_GROUP = 2" in r.get_json()["detail"]

    many = dict(RULE, notifications={"email": {"recipients": ["a@example.com", "b@example.com", "c@example.com"]}})
    r = admin.put("/v7/alerts/rules/1", json=many)
    assert r.status_code == 400 and "ALERT_NOTIFICATIONS_PER_RULE = 2" in r.get_json()["detail"]

    r = admin.post("/v7/alerts/rules", json=dict(RULE, description="x" * (cfg.ALERT_MAX_BODY_BYTES + 1)))
    assert r.status_code == 413 and "ALERT_MAX_BODY_BYTES" in r.get_json()["detail"]

    connector = {"type": "generic", "name": "c", "target": "http://127.0.0.1:9/"}
    assert admin.post("/v7/connectors/generic", json=connector).status_code == 201
    r = admin.post("/v7/connectors/generic", json=connector)
    assert r.status_code == 409 and "WEBHOOK_CONNECTORS_PER_GROUP = 1" in r.get_json()["detail"]


def test_credentials_are_masked_and_never_echoed(admin, cfg):
    cfg.WEBHOOK_ALLOWED_HOSTS = "127.0.0.1"
    body = {"type": "generic", "name": "c", "target": "http://127.0.0.1:9/",
            "authentication": {"type": "bearer-token", "token": "very-secret-token"}}
    created = admin.post("/v7/connectors/generic", json=body).get_json()
    assert created["authentication"] == {"type": "bearer-token", "token": "********"}
    assert "very-secret-token" not in admin.get("/v7/connectors/generic").get_data(as_text=True)
    # a masked value read back and sent again keeps the stored one
    updated = admin.put(f"/v7/connectors/generic/{created['id']}", json=dict(body, name="c2",
                                                                            authentication=created["authentication"]))
    assert updated.status_code == 200 and "signingSecret" not in updated.get_data(as_text=True)
    with admin.client.application.app_context():
        assert get_db().alert_connectors.find_one()["authentication"]["token"] == "very-secret-token"


def test_another_groups_integrations_cannot_be_named_or_assigned(admin, make_actor, cfg):
    cfg.WEBHOOK_ALLOWED_HOSTS = "127.0.0.1"
    connector = admin.post("/v7/connectors/generic", json={"type": "generic", "name": "c",
                                                           "target": "http://127.0.0.1:9/"}).get_json()
    operation = admin.post("/v7/operations/webhooks", json={"name": "o", "category": "alerts",
                                                            "status": "pending"}).get_json()
    other = make_actor("Account Admin")
    mine = other.post("/v7/operations/webhooks", json={"name": "o", "category": "alerts", "status": "pending"})
    r = other.put(f"/v7/operations/webhooks/{mine.get_json()['id']}/connectors", json=[connector["id"]])
    assert r.status_code == 404
    r = other.post("/v7/alerts/rules", json=dict(RULE, notifications={"webhook": [{"integrationId": operation["id"]}]}))
    assert r.status_code == 400 and "not found" in r.get_json()["detail"]
    assert other.get(f"/v7/connectors/generic/{connector['id']}").status_code == 404
    assert other.delete(f"/v7/operations/webhooks/{operation['id']}").status_code == 404
    assert other.get("/v7/alerts/deliveries").get_json()["deliveries"] == []


def test_a_metric_registered_by_another_data_source_is_watched_like_the_built_in_ones(admin, app):
    """How a data source plugs in: register a function measuring one window (here in place of Model
    Health's own Score PSI)."""
    seen = []
    registered = dict(metrics.REGISTRY)

    def score_psi(aid, condition, start, end):
        seen.append((aid, condition["key"], (end - start).total_seconds()))
        return metrics.Measurement(0.31, 500)
    metrics.register(metrics.AlertMetric(key="scorePsi", data_source="Model Health", metric="Score PSI",
                                         compute=score_psi))
    try:
        r = admin.post("/v7/alerts/rules", json=dict(RULE, expression="((scorePsi > 0.25))",
                                                     maiascore={"windowSeconds": 3600}))
        assert r.status_code == 201 and r.get_json()["maiascore"]["dataSource"] == "Model Health"
        with app.app_context():
            evaluation.evaluate_group(admin.aid, int(NOW.timestamp() // 60) - 1, 60)
        [alert] = admin.get("/v7/alerts").get_json()["alerts"]
        assert alert["maiascore"]["startValue"] == 0.31 and seen == [(admin.aid, "scorePsi", 3600.0)]
    finally:
        metrics.REGISTRY.clear()
        metrics.REGISTRY.update(registered)


def test_a_failing_evaluation_is_recorded_raised_for_retry_and_spares_the_other_rules(admin, app, caplog):
    def broken(aid, condition, start, end):
        raise RuntimeError("source unavailable")
    metrics.register(metrics.AlertMetric(key="brokenMetric", data_source="Broken", metric="Broken",
                                         compute=broken))
    try:
        assert admin.post("/v7/alerts/rules", json=dict(RULE, expression="((brokenMetric > 1))")).status_code == 201
        assert admin.post("/v7/alerts/rules", json=RULE).status_code == 201
        tick = int(NOW.timestamp() // 60) - 1
        with app.app_context():
            with pytest.raises(jobs.EvaluationFailed):
                jobs.evaluate_group(admin.aid, tick)
            broken_rule, healthy = get_db().alert_rules.find().sort("seq", 1)
        assert broken_rule["lastError"] == "RuntimeError" and broken_rule.get("lastTick") is None
        assert healthy["lastTick"] == tick and "lastError" not in healthy
        assert "failed to evaluate" in caplog.text
        rule = admin.get(f"/v7/alerts/rules/{broken_rule['_id']}").get_json()
        assert "retried" in rule["maiascore"]["lastError"]
    finally:
        del metrics.REGISTRY["brokenMetric"]


def test_model_health_metrics_are_offered_to_rules(admin):
    """Model Health's figures (from monitoring's counters) can be watched like the widgets' metrics."""
    keys = {m.key for m in metrics.catalogue() if m.data_source == "Model Health"}
    assert keys == {"scorePsi", "featurePsi", "auc", "ks", "badRate", "calibrationError", "challengerAgreement"}
    r = admin.post("/v7/alerts/rules", json=dict(RULE, expression="((featurePsi >= 0.25))",
                                                 maiascore={"windowSeconds": 3600}))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["maiascore"]["dataSource"] == "Model Health"
    assert r.get_json()["maiascore"]["metric"] == "Feature PSI"


def test_evaluating_rules_spends_the_groups_read_budget_and_heavy_reads_are_then_refused(admin, make_actor, app):
    """A group's rules and its own heavy reads share one database-time budget (HEAVY_READ_MS_PER_MINUTE);
    another group's budget is untouched."""
    def slow(aid, condition, start, end):
        time.sleep(0.05)
        return metrics.Measurement(1.0, 100)
    other = make_actor("Account Admin")
    metrics.register(metrics.AlertMetric(key="slowMetric", data_source="Slow", metric="Slow", compute=slow))
    try:
        for _ in range(3):
            assert admin.post("/v7/alerts/rules", json=dict(RULE, expression="((slowMetric > 5))")).status_code == 201
        app.config["MAIASCORE"].HEAVY_READ_MS_PER_MINUTE = 100
        with app.app_context():
            evaluation.evaluate_group(admin.aid, int(NOW.timestamp() // 60) - 1, 60)
        heavy = "/reports?referenceId_contains=abc"
        refused = admin.get(heavy)
        assert refused.status_code == 429 and "HEAVY_READ_MS_PER_MINUTE" in refused.get_json()["message"]
        assert other.get(heavy).status_code == 200
    finally:
        del metrics.REGISTRY["slowMetric"]
