"""Every collection's indexes, declared once and created idempotently at start."""
from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel

INDEXES = {
    "users": [
        IndexModel([("email", ASC)], unique=True),
        IndexModel([("username", ASC)], unique=True),
        IndexModel([("memberships.aid", ASC)]),
    ],
    "api_tokens": [
        IndexModel([("hash", ASC)], unique=True),
        IndexModel([("user", ASC)]),
    ],
    "score_reports": [
        IndexModel([("aid", ASC), ("uuid", ASC)], unique=True,
                   partialFilterExpression={"uuid": {"$type": "string"}}),
        IndexModel([("aid", ASC), ("created_at", DESC)]),  # sorts on created_at, published_at and id
        IndexModel([("aid", ASC), ("processed_at", DESC)]),  # the latest scored first
        # a batch's queued reports; with _id it also serves the scoring write's guarded point update
        # {_id, batch, status} as one exact lookup on engines that plan by the filter's field set
        IndexModel([("batch", ASC), ("status", ASC), ("_id", ASC)]),
        # a group's reports by status; a drain's read: {aid, status: "queued", lane: "single"} oldest first
        IndexModel([("aid", ASC), ("status", ASC), ("lane", ASC), ("_id", ASC)]),
        IndexModel([("status", ASC), ("updated_at", ASC)]),
    ],
    "score_batches": [
        IndexModel([("status", ASC), ("updated_at", ASC)]),
        IndexModel([("doneAt", ASC)], expireAfterSeconds=7 * 86400),  # a done batch is only history
    ],
    "trainings": [
        IndexModel([("aid", ASC), ("uuid", ASC)], unique=True,
                   partialFilterExpression={"uuid": {"$type": "string"}}),
        IndexModel([("aid", ASC), ("created_at", DESC)]),
        IndexModel([("aid", ASC), ("finishedAt", DESC)]),
        IndexModel([("status", ASC)]),
    ],
    "models": [
        IndexModel([("aid", ASC), ("active", ASC)]),
        IndexModel([("aid", ASC), ("version", ASC)], unique=True),
        IndexModel([("aid", ASC), ("training", ASC)], unique=True),
        IndexModel([("aid", ASC), ("created_at", DESC)]),
    ],
    "scoring_runs": [IndexModel([("aid", ASC), ("created_at", DESC)]), IndexModel([("status", ASC)])],
    "datasets": [
        IndexModel([("aid", ASC), ("created_at", DESC)]),
    ],
    "dashboards": [
        IndexModel([("aid", ASC), ("reportId", ASC)], unique=True),
        IndexModel([("aid", ASC), ("seq", ASC)]),
        IndexModel([("aid", ASC), ("builtinKey", ASC)], unique=True,
                   partialFilterExpression={"builtinKey": {"$type": "string"}}),
    ],
    "report_snapshots": [
        IndexModel([("aid", ASC), ("snapshotId", ASC)], unique=True),
        IndexModel([("aid", ASC), ("created_at", DESC)]),
        IndexModel([("aid", ASC), ("report.reportId", ASC), ("created_at", DESC)]),
        IndexModel([("expiresAt", ASC)], expireAfterSeconds=0),
    ],
    "dashboard_v7_extras": [
        IndexModel([("aid", ASC), ("reportId", ASC)], unique=True),
    ],
    "dashboard_v7_snapshots": [
        IndexModel([("aid", ASC), ("snapshotId", ASC)], unique=True),
    ],
    "password_resets": [
        IndexModel([("expires_at", ASC)], expireAfterSeconds=0),
        IndexModel([("user", ASC)]),
    ],
    # model health (maiascore.monitoring): hourly counters per version, a pass's deltas until applied
    "monitoring_counts": [IndexModel([("aid", ASC), ("hour", ASC), ("version", ASC)])],
    "monitoring_pending": [IndexModel([("created_at", ASC)]), IndexModel([("due", ASC)])],
    "dashboard_filters": [
        IndexModel([("aid", ASC), ("filterId", ASC)], unique=True),
    ],
    "alert_rules": [IndexModel([("aid", ASC), ("seq", ASC)])],
    "alert_rounds": [
        IndexModel([("ruleId", ASC), ("tick", ASC)]),
        IndexModel([("at", ASC)], expireAfterSeconds=7 * 86400),  # a round only matters for a few evaluations
    ],
    "alerts": [
        IndexModel([("aid", ASC), ("startDate", DESC)]),
        IndexModel([("aid", ASC), ("state", ASC), ("endDate", DESC)]),
    ],
    "alert_deliveries": [
        IndexModel([("channel", ASC), ("status", ASC), ("dueAt", ASC)]),
        IndexModel([("aid", ASC), ("created_at", DESC)]),
        IndexModel([("status", ASC), ("dueAt", ASC)]),
    ],
    "alert_connectors": [IndexModel([("aid", ASC), ("created_at", ASC)])],
    "alert_webhook_operations": [IndexModel([("aid", ASC), ("created_at", ASC)])],
}


# Indexes an earlier version created that one above now serves: dropped at start.
SUPERSEDED = {"score_reports": ["batch_1_status_1"]}


def ensure_indexes(db):
    for name, models in INDEXES.items():
        db[name].create_indexes(models)
    for name, index_names in SUPERSEDED.items():
        present = set(db[name].index_information())
        for index_name in index_names:
            if index_name in present:
                db[name].drop_index(index_name)
