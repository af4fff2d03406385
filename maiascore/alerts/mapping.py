"""v7 answers for rules, alerts, connectors, webhook operations and the delivery log, as the
official SDKs parse them. MaiaScore's own words sit in each object's ``maiascore``."""
from datetime import timezone

from maiascore.alerts import metrics, states
from maiascore.alerts.connectors import AUTH_TYPES, MASK, SECRET_FIELDS
from maiascore.dashboards.v7.mapping import iso


def _condition_out(condition):
    metric = metrics.REGISTRY.get(condition["key"])
    out = {key: condition.get(key) for key in ("dataSource", "metric", "comparison", "threshold", "windowSeconds",
                                               "minimumCount", "measure", "filters", "dashboardId", "widgetId")
           if condition.get(key) is not None}
    out["key"] = condition["key"]
    out["unit"] = metric.unit if metric else ""
    return out


def rule_out(doc, links, detail=False):
    extension = _condition_out(doc["condition"])
    extension.update({"activeAlertId": doc.get("activeAlertId"), "lastValue": doc.get("lastValue"),
                      "lastCount": doc.get("lastCount"), "lastEvaluatedDate": iso(doc.get("lastEvaluatedAt"))})
    if doc.get("lastError"):
        extension["lastError"] = f"the last evaluation failed ({doc['lastError']}); it is retried"
    notifications = {}
    if (doc.get("notifications") or {}).get("email"):
        notifications["email"] = doc["notifications"]["email"]
    if (doc.get("notifications") or {}).get("webhook"):
        notifications["webhook"] = [{"integrationId": i, "integrationType": "webhook"}
                                    for i in doc["notifications"]["webhook"]]
    out = {"isDefault": False, "roundsViolatingMode": "any", **(doc.get("kept") or {}),
           "ruleId": doc["_id"], "ruleName": doc["ruleName"], "expression": doc["expression"],
           "description": doc.get("description") or "", "notifyOnClear": bool(doc.get("notifyOnClear")),
           "alertType": doc.get("alertType") or "api", "severity": doc["severity"],
           "roundsViolatingOutOf": doc["roundsViolatingOutOf"],
           "roundsViolatingRequired": doc["roundsViolatingRequired"], "notifications": notifications,
           "testIds": [], "maiascore": extension, "_links": {"self": links.href(f"/alerts/rules/{doc['_id']}")}}
    if detail:
        out["tests"] = []
    return out


def _duration(doc):
    end = doc.get("endDate") or doc.get("lastAt") or doc["startDate"]
    return max(0, int((end - doc["startDate"]).total_seconds()))


def _metrics_text(doc, value, count):
    if value is None:
        return f"{doc['key']}: no data ({count or 0} {doc['dataSource'].lower()})"
    unit = doc.get("unit") or ""
    return f"{doc['key']}: {value:g}{unit} over {count} {doc['dataSource'].lower()} (threshold {doc['comparison']} " \
           f"{doc['threshold']:g}{unit})"


def _alert_extension(doc):
    return {"ruleName": doc["ruleName"], "expression": doc["expression"], "dataSource": doc["dataSource"],
            "metric": doc["metric"], "key": doc["key"], "unit": doc.get("unit") or "", "comparison": doc["comparison"],
            "threshold": doc["threshold"], "windowSeconds": doc["windowSeconds"], "startValue": doc.get("startValue"),
            "startCount": doc.get("startCount"), "endValue": doc.get("endValue"), "endCount": doc.get("endCount"),
            "lastValue": doc.get("lastValue"), "lastCount": doc.get("lastCount"),
            "dashboardId": doc.get("dashboardId"), "widgetId": doc.get("widgetId")}


def _alert_common(doc, links):
    out = {"id": doc["_id"], "alertType": doc.get("alertType") or "api", "startDate": iso(doc["startDate"]),
           "violationCount": len(doc.get("violatingTicks") or ()) or 1, "duration": _duration(doc),
           "suppressed": False, "meta": {"version": 1}, "alertState": doc["state"], "alertSeverity": doc["severity"],
           "_links": {"self": links.href(f"/alerts/{doc['_id']}"),
                      "rule": links.href(f"/alerts/rules/{doc['ruleId']}")},
           "maiascore": _alert_extension(doc)}
    if doc.get("endDate"):
        out["endDate"] = iso(doc["endDate"])
    return out


def alert_out(doc, links):
    """``Alert`` in a list: the older ``state``/``severity``/``ruleId`` fields beside the v7 ones."""
    out = _alert_common(doc, links)
    out.update({"alertRuleId": doc["ruleId"], "state": states.LEGACY_STATES[doc["state"]],
                "severity": doc["severity"].upper()})
    if str(doc["ruleId"]).isdigit():
        out["ruleId"] = int(doc["ruleId"])
    return out


def alert_detail_out(doc, links):
    out = _alert_common(doc, links)
    out.update({"state": doc["state"], "severity": doc["severity"]})
    detail = {"id": f"{doc['_id']}-{doc['key']}", "name": doc["ruleName"], "type": doc["metric"],
              "state": doc["state"], "start": {"metrics": _metrics_text(doc, doc.get("startValue"),
                                                                        doc.get("startCount"))}}
    if doc["state"] == states.CLEAR:
        detail["end"] = {"metrics": _metrics_text(doc, doc.get("endValue"), doc.get("endCount"))}
    else:
        detail["end"] = {"metrics": _metrics_text(doc, doc.get("lastValue"), doc.get("lastCount"))}
    out["details"] = [detail]
    return out


def _masked(authentication):
    if not authentication:
        return None
    return {key: (MASK if key in SECRET_FIELDS else authentication[key])
            for key in ("type", *AUTH_TYPES[authentication["type"]])}


def connector_out(doc, links, secret=None):
    out = {"id": doc["_id"], "type": "generic", "name": doc["name"], "target": doc["target"],
           "lastModifiedDate": int(doc["modified_at"].timestamp() * 1000) if doc.get("modified_at") else None,
           "headers": doc.get("headers") or [], "_links": {"self": links.href(f"/connectors/generic/{doc['_id']}")}}
    if doc.get("authentication"):
        out["authentication"] = _masked(doc["authentication"])
    if secret:
        out["maiascore"] = {"signingSecret": secret,
                            "note": "shown once: keep it to verify X-MaiaScore-Signature on what this connector sends"}
    return out


def operation_out(doc, links):
    out = {"id": doc["_id"], "name": doc["name"], "enabled": doc.get("enabled", True), "category": "alerts",
           "status": doc.get("status") or states.OP_PENDING, "path": doc.get("path") or "",
           "headers": doc.get("headers") or [], "type": "webhook",
           "_links": {"self": links.href(f"/operations/webhooks/{doc['_id']}")},
           "maiascore": {"connectorId": doc.get("connectorId")}}
    for key in ("payload", "queryParams"):
        if doc.get(key) is not None:
            out[key] = doc[key]
    return out


def assignments_out(ids, links, path):
    return {"items": list(ids), "_links": {"self": links.href(path)}}


def iso_millis(value):
    """The delivery log keeps milliseconds: retries can be a fraction of a second apart."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def delivery_out(doc):
    return {"id": doc["_id"], "alertId": doc["alertId"], "ruleId": doc["ruleId"], "event": doc["event"],
            "kind": doc["kind"], "integrationId": doc.get("operationId"), "connectorId": doc.get("connectorId"),
            "recipients": doc.get("recipients"), "status": doc["status"], "createdDate": iso(doc["created_at"]),
            "nextAttemptDate": iso_millis(doc["dueAt"]) if doc["status"] == states.PENDING else None,
            "attempts": [{"attempt": a["attempt"], "date": iso_millis(a["at"]), "statusCode": a.get("statusCode"),
                          "latencyMs": a.get("latencyMs"), "error": a.get("error")} for a in doc.get("attempts") or ()]}
