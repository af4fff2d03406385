"""Reading alerts and the delivery log, and the rule changes that touch alerts; the routes' one door
to rules, connectors and operations too, so permission-free domain calls stay in one place."""
from datetime import timedelta

from maiascore.alerts import connectors, rules, states
from maiascore.alerts.evaluation import ALERTS, DELIVERIES
from maiascore.clock import stored_now, utcnow
from maiascore.connections import get_db
from maiascore.dashboards.timerange import parse_window
from maiascore.errors import Invalid, NotFound

DEFAULT_LOOKBACK = timedelta(days=90)
MAX_PAGE = 500
DEFAULT_PAGE = 100


def time_range(window, start, end):
    """``window`` or ``startDate``/``endDate`` (v7 names); 90 days up to now when none is given."""
    now = utcnow()
    if window and (start or end):
        raise Invalid("window and startDate/endDate are mutually exclusive: send one or the other",
                      errors=[{"code": "INVALID_VALUE", "field": "window", "message": "not with startDate/endDate"}])
    if window:
        return now - parse_window(window), now
    end = end or now
    start = start or end - DEFAULT_LOOKBACK
    if end <= start:
        raise Invalid("endDate must be later than startDate",
                      errors=[{"code": "INVALID_VALUE", "field": "endDate", "message": "before startDate"}])
    return start, end


def page_args(cursor, limit):
    if cursor in (None, ""):
        offset = 0
    elif not cursor.isdigit() or len(cursor) > 9:
        raise Invalid("cursor is not one this API gave; take it from _links.next.href",
                      errors=[{"code": "INVALID_VALUE", "field": "cursor", "message": "not a cursor this API gave"}])
    else:
        offset = int(cursor)
    if limit is None:
        limit = DEFAULT_PAGE
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"max must be between 1 and {MAX_PAGE}",
                      errors=[{"code": "INVALID_VALUE", "field": "max", "message": f"1 to {MAX_PAGE}"}])
    return offset, limit


def list_alerts(aid, state, start, end, offset, limit):
    """One page, newest first, and whether another follows. ``trigger``: active alerts started in the
    range; ``clear``: alerts cleared in it; neither: both, with active ones started before its end."""
    if state == states.TRIGGER:
        query = {"aid": aid, "state": states.TRIGGER, "startDate": {"$gte": start, "$lte": end}}
    elif state == states.CLEAR:
        query = {"aid": aid, "state": states.CLEAR, "endDate": {"$gte": start, "$lte": end}}
    elif state in (None, ""):
        query = {"aid": aid, "$or": [{"state": states.CLEAR, "endDate": {"$gte": start, "$lte": end}},
                                     {"state": states.TRIGGER, "startDate": {"$lte": end}}]}
    else:
        raise Invalid("state must be trigger or clear",
                      errors=[{"code": "INVALID_VALUE", "field": "state", "message": "trigger or clear"}])
    docs = list(get_db()[ALERTS].find(query).sort([("startDate", -1), ("_id", -1)]).skip(offset).limit(limit + 1))
    return docs[:limit], len(docs) > limit


def get_alert(aid, alert_id):
    doc = get_db()[ALERTS].find_one({"aid": aid, "_id": str(alert_id)})
    if doc is None:
        raise NotFound(f"Alert {rules.shown(alert_id)} not found")
    return doc


def active_alerts_of(aid, rule_ids):
    return {doc["ruleId"]: doc for doc in get_db()[ALERTS].find({"aid": aid, "state": states.TRIGGER,
                                                                 "ruleId": {"$in": list(rule_ids)}})}


def list_deliveries(aid, alert_id, operation_id, status, offset, limit):
    query = {"aid": aid}
    if alert_id:
        query["alertId"] = str(alert_id)
    if operation_id:
        query["operationId"] = str(operation_id)
    if status:
        if status not in states.DELIVERY_STATES:
            raise Invalid("status must be one of " + ", ".join(states.DELIVERY_STATES),
                          errors=[{"code": "INVALID_VALUE", "field": "status", "message": "unknown status"}])
        query["status"] = status
    docs = list(get_db()[DELIVERIES].find(query, {"payload": 0, "leaseUntil": 0})
                .sort([("created_at", -1), ("_id", -1)]).skip(offset).limit(limit + 1))
    return docs[:limit], len(docs) > limit


# --- rules, connectors and operations, as the routes call them ----------------------------


def create_rule(aid, user_id, body):
    return rules.create_rule(aid, user_id, body, connectors.operation_ids(aid))


def update_rule(aid, rule_id, user_id, body):
    return rules.update_rule(aid, rule_id, user_id, body, connectors.operation_ids(aid))


def delete_rule(aid, rule_id):
    """The rule goes; an alert it holds open is cleared (without notifications: nobody watches any more)."""
    doc = rules.delete_rule(aid, rule_id)
    get_db()[ALERTS].update_many({"aid": aid, "ruleId": doc["_id"], "state": states.TRIGGER},
                                 {"$set": {"state": states.CLEAR, "endDate": stored_now(), "ruleDeleted": True}})


def delete_operation(aid, operation_id):
    connectors.delete_operation(aid, operation_id, rules.rules_using(aid, operation_id))
