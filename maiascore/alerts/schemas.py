"""Shapes of v7 alert rules, alerts, connectors, webhook operations and the delivery log.

Bodies keep unknown fields (the SDKs add ThousandEyes-only ones); the service checks what
MaiaScore reads and names the field that is wrong. Answers are built in ``mapping.py``.
"""
import marshmallow as ma

from maiascore.dashboards.v7.schemas import (Loose, V7LinkSchema, V7PaginationLinksSchema,  # noqa: F401
                                             V7ProblemSchema, V7SelfLinksSchema)

RULE_EXTENSION_DOC = {"description": "MaiaScore's own words for the condition: {dataSource, metric, measure, "
                                     "filters, comparison, threshold, windowSeconds, minimumCount, dashboardId, "
                                     "widgetId}; on answers also key, unit, activeAlertId, lastValue, lastCount, "
                                     "lastEvaluatedDate. dataSource: Score Reports or Trainings; metric: e.g. "
                                     "Failure Rate, Report Count, Processing Time, Score, AUC."}


class RuleExtensionSchema(Loose):
    dataSource = ma.fields.String(allow_none=True)
    metric = ma.fields.String(allow_none=True)
    measure = ma.fields.Dict(allow_none=True, metadata={"description": "{type: Mean|Median|Minimum|Maximum|"
                                                                       "nth Percentile|Standard Deviation, "
                                                                       "percentileValue}"})
    filters = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(), allow_none=True)
    comparison = ma.fields.String(allow_none=True, metadata={"description": ">=, >, <=, <, == or !="})
    threshold = ma.fields.Raw(allow_none=True, metadata={"description": "A number; percent for rates"})
    windowSeconds = ma.fields.Raw(allow_none=True, metadata={"description": "Evaluation window (default 300)"})
    minimumCount = ma.fields.Raw(allow_none=True, metadata={"description": "Fewer documents in the window never "
                                                                           "violate (default 1)"})
    dashboardId = ma.fields.String(allow_none=True)
    widgetId = ma.fields.String(allow_none=True)
    key = ma.fields.String(dump_only=True, metadata={"description": "The metric's key in the expression"})
    unit = ma.fields.String(dump_only=True)
    activeAlertId = ma.fields.String(dump_only=True, allow_none=True)
    lastValue = ma.fields.Float(dump_only=True, allow_none=True)
    lastCount = ma.fields.Integer(dump_only=True, allow_none=True)
    lastEvaluatedDate = ma.fields.String(dump_only=True, allow_none=True, metadata={"format": "date-time"})
    lastError = ma.fields.String(dump_only=True, metadata={"description": "Only when the last evaluation failed"})


class EmailNotificationSchema(Loose):
    recipients = ma.fields.List(ma.fields.Raw(), allow_none=True)
    message = ma.fields.String(allow_none=True)


class WebhookNotificationSchema(Loose):
    integrationId = ma.fields.String(metadata={"description": "A webhook operation's id"})
    integrationType = ma.fields.String(allow_none=True)
    integrationName = ma.fields.String(allow_none=True)
    target = ma.fields.String(allow_none=True)


class NotificationsSchema(Loose):
    email = ma.fields.Nested(EmailNotificationSchema, allow_none=True)
    webhook = ma.fields.List(ma.fields.Nested(WebhookNotificationSchema), allow_none=True)


class RuleSchema(Loose):
    """``RuleDetailUpdate`` in, ``Rule`` / ``RuleDetail`` out."""

    ruleId = ma.fields.String(dump_only=True)
    ruleName = ma.fields.String(required=True)
    expression = ma.fields.String(metadata={"description": "One condition, e.g. ((failureRate >= 5%))"})
    description = ma.fields.String(allow_none=True)
    alertType = ma.fields.String(allow_none=True, metadata={"description": "Kept as sent (default api)"})
    severity = ma.fields.String(allow_none=True, metadata={"description": "info, minor, major or critical"})
    notifyOnClear = ma.fields.Raw(allow_none=True)
    roundsViolatingOutOf = ma.fields.Raw(metadata={"description": "Evaluations looked at (1-10)"})
    roundsViolatingRequired = ma.fields.Raw(allow_none=True, metadata={"description": "How many of them must "
                                                                                      "violate"})
    notifications = ma.fields.Nested(NotificationsSchema, allow_none=True)
    maiascore = ma.fields.Nested(RuleExtensionSchema, allow_none=True, metadata=RULE_EXTENSION_DOC)
    isDefault = ma.fields.Boolean(dump_only=True, metadata={"description": "Always false"})
    roundsViolatingMode = ma.fields.String(dump_only=True, metadata={"description": "Always any"})
    testIds = ma.fields.List(ma.fields.Raw(), dump_only=True, metadata={"description": "Always empty"})
    tests = ma.fields.List(ma.fields.Raw(), dump_only=True, metadata={"description": "One rule's answer only; "
                                                                                     "always empty"})
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links", dump_only=True)


class RulesSchema(Loose):
    alertRules = ma.fields.List(ma.fields.Nested(RuleSchema))
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links")


class RuleQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    dashboardId = ma.fields.String(metadata={"description": "Only rules on this dashboard's widgets"})


class AlertLinksSchema(Loose):
    self = ma.fields.Nested(V7LinkSchema)
    rule = ma.fields.Nested(V7LinkSchema)


class AlertCommonSchema(Loose):
    id = ma.fields.String()
    alertType = ma.fields.String()
    startDate = ma.fields.String(metadata={"format": "date-time"})
    endDate = ma.fields.String(metadata={"format": "date-time", "description": "Once cleared"})
    violationCount = ma.fields.Integer()
    duration = ma.fields.Integer(metadata={"description": "Seconds"})
    suppressed = ma.fields.Boolean(metadata={"description": "Always false"})
    meta = ma.fields.Dict(metadata={"description": "{version}"})
    alertState = ma.fields.String(metadata={"description": "trigger or clear"})
    alertSeverity = ma.fields.String()
    maiascore = ma.fields.Dict(metadata={"description": "The rule's words, the threshold and the measured values"})
    _links = ma.fields.Nested(AlertLinksSchema, data_key="_links")


class AlertSchema(AlertCommonSchema):
    """``Alert`` in a list: the older ``state``, ``severity`` and ``ruleId`` beside the v7 fields."""

    alertRuleId = ma.fields.String()
    state = ma.fields.String(metadata={"description": "ACTIVE or CLEARED"})
    severity = ma.fields.String(metadata={"description": "INFO, MINOR, MAJOR or CRITICAL"})
    ruleId = ma.fields.Integer(metadata={"description": "When the rule's id is a number"})


class AlertMetricsSchema(Loose):
    metrics = ma.fields.String()


class AlertDetailItemSchema(Loose):
    id = ma.fields.String()
    name = ma.fields.String(metadata={"description": "The rule's name"})
    type = ma.fields.String(metadata={"description": "The metric"})
    state = ma.fields.String(metadata={"description": "trigger or clear"})
    start = ma.fields.Nested(AlertMetricsSchema)
    end = ma.fields.Nested(AlertMetricsSchema, metadata={"description": "The clearing values, or the last ones "
                                                                        "while active"})


class AlertDetailSchema(AlertCommonSchema):
    """``AlertDetail``: one alert with what was measured."""

    state = ma.fields.String(metadata={"description": "trigger or clear"})
    severity = ma.fields.String(metadata={"description": "info, minor, major or critical"})
    details = ma.fields.List(ma.fields.Nested(AlertDetailItemSchema))


class AlertsSchema(Loose):
    alerts = ma.fields.List(ma.fields.Nested(AlertSchema))
    startDate = ma.fields.String(metadata={"format": "date-time", "description": "The range looked at"})
    endDate = ma.fields.String(metadata={"format": "date-time"})
    _links = ma.fields.Nested(V7PaginationLinksSchema, data_key="_links")


class AlertQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    window = ma.fields.String(metadata={"description": "[0-9]+[smhdw]; not with startDate/endDate"})
    startDate = ma.fields.String(metadata={"description": "ISO-8601 date-time"})
    endDate = ma.fields.String(metadata={"description": "ISO-8601 date-time; default now"})
    max = ma.fields.Integer(metadata={"description": "Alerts per page (default 100, at most 500)"})
    cursor = ma.fields.String(metadata={"description": "Opaque; take it from _links.next.href"})
    state = ma.fields.String(metadata={"description": "trigger (active, started in the range), clear (cleared in "
                                                      "the range); neither: both"})


class DeliveryQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    alertId = ma.fields.String()
    integrationId = ma.fields.String(metadata={"description": "A webhook operation's id"})
    status = ma.fields.String(metadata={"description": "pending, delivered or failed"})
    max = ma.fields.Integer()
    cursor = ma.fields.String()


class AttemptSchema(ma.Schema):
    attempt = ma.fields.Integer()
    date = ma.fields.String(metadata={"format": "date-time"})
    statusCode = ma.fields.Integer(allow_none=True, metadata={"description": "The endpoint's answer; nothing else "
                                                                             "of it is kept"})
    latencyMs = ma.fields.Float(allow_none=True)
    error = ma.fields.String(allow_none=True)


class DeliverySchema(ma.Schema):
    id = ma.fields.String()
    alertId = ma.fields.String()
    ruleId = ma.fields.String()
    event = ma.fields.String(metadata={"description": "alert.trigger or alert.clear"})
    kind = ma.fields.String(metadata={"description": "webhook or email"})
    integrationId = ma.fields.String(allow_none=True)
    connectorId = ma.fields.String(allow_none=True)
    recipients = ma.fields.List(ma.fields.String(), allow_none=True)
    status = ma.fields.String()
    createdDate = ma.fields.String()
    nextAttemptDate = ma.fields.String(allow_none=True)
    attempts = ma.fields.List(ma.fields.Nested(AttemptSchema))


class DeliveriesSchema(ma.Schema):
    deliveries = ma.fields.List(ma.fields.Nested(DeliverySchema))
    _links = ma.fields.Nested(V7PaginationLinksSchema, data_key="_links")


class HeaderSchema(Loose):
    name = ma.fields.String(required=True)
    value = ma.fields.String(required=True)


class ConnectorSchema(Loose):
    """``GenericConnector``: where webhooks go."""

    id = ma.fields.String(dump_only=True)
    type = ma.fields.String(metadata={"description": "generic"})
    name = ma.fields.String(required=True)
    target = ma.fields.String(required=True, metadata={"description": "http(s) URL allowed by WEBHOOK_ALLOWED_HOSTS"})
    authentication = ma.fields.Dict(allow_none=True, metadata={"description": "{type: basic|bearer-token|"
                                                                              "other-token, ...}; answered masked"})
    headers = ma.fields.List(ma.fields.Nested(HeaderSchema), allow_none=True)
    maiascore = ma.fields.Dict(allow_none=True, metadata={"description": "{signingSecret}: set the signing secret "
                                                                         "(16-256 characters); on creation the "
                                                                         "answer shows it once, with a note"})
    lastModifiedDate = ma.fields.Integer(dump_only=True, allow_none=True,
                                         metadata={"description": "Milliseconds since the epoch"})
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links", dump_only=True)


class ConnectorsSchema(Loose):
    items = ma.fields.List(ma.fields.Nested(ConnectorSchema))
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links")


class OperationSchema(Loose):
    """``WebhookOperation``: an alert webhook, sent through its connector."""

    id = ma.fields.String(dump_only=True)
    name = ma.fields.String(required=True)
    enabled = ma.fields.Raw(allow_none=True)
    category = ma.fields.String(metadata={"description": "alerts"})
    status = ma.fields.String(metadata={"description": "pending, connected or failing: the last attempt's outcome"})
    path = ma.fields.String(allow_none=True, metadata={"description": "Appended to the connector's target"})
    payload = ma.fields.String(allow_none=True, metadata={"description": "Stored; MaiaScore sends its own JSON"})
    headers = ma.fields.List(ma.fields.Nested(HeaderSchema), allow_none=True)
    queryParams = ma.fields.String(allow_none=True)
    type = ma.fields.String(metadata={"description": "webhook"})
    maiascore = ma.fields.Dict(dump_only=True, metadata={"description": "{connectorId}: the connector it is sent "
                                                                        "through, or null"})
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links", dump_only=True)


class OperationsSchema(Loose):
    items = ma.fields.List(ma.fields.Nested(OperationSchema))
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links")


class AssignmentsSchema(Loose):
    items = ma.fields.List(ma.fields.String())
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links")
