"""The reports every account group starts with: a scoring overview, a model overview and model health.

Created when a group is created (the ``GROUP_CREATED`` event) and, for groups that predate
them, on the first ``GET /v6/reports``. A unique ``(aid, builtinKey)`` index keeps two
concurrent first requests from creating them twice. Widget ids are fixed, so a built-in
widget's data URL is the same shape in every group.
"""
import logging

from pymongo.errors import DuplicateKeyError, PyMongoError

from maiascore.connections import get_db
from maiascore.dashboards.documents import new_report
from maiascore.dashboards.widgets import clean_widgets
from maiascore.events import GROUP_CREATED

log = logging.getLogger("maiascore.dashboards")

SR = "Score Reports"
TR = "Trainings"
ACTIVE = {"Score Version": ["active"]}

SCORING_OVERVIEW = {
    "builtinKey": "scoring-overview",
    "title": "Scoring overview",
    "description": "Score reports of this account group: volume, scores, failures and the latest reports.",
    "widgets": [
        {"id": "sotot", "type": "Number", "title": "Totals", "numberCards": [
            {"id": "socnt", "description": "Score reports", "dataSource": SR, "metric": "Report Count"},
            {"id": "sofld", "description": "Failed reports", "dataSource": SR, "metric": "Failed Reports"},
            {"id": "somsc", "description": "Mean score", "dataSource": SR, "metric": "Score",
             "measure": {"type": "Mean"}},
            {"id": "soptm", "description": "Median processing time (seconds)", "dataSource": SR,
             "metric": "Processing Time", "measure": {"type": "Median"}},
        ]},
        {"id": "sorph", "type": "Bar Chart: Stacked", "title": "Reports per hour", "dataSource": SR,
         "metric": "Report Count"},
        {"id": "somst", "type": "Time Series: Line", "title": "Mean score over time", "dataSource": SR,
         "metric": "Score", "measure": {"type": "Mean"}},
        {"id": "sodst", "type": "Box and Whiskers", "title": "Score distribution", "dataSource": SR,
         "metric": "Score", "measure": {"type": "Median"}, "groupBy": "Score Version",
         "sortBy": "Alphabetical"},
        {"id": "sopvf", "type": "Bar Chart: Stacked", "title": "Processed versus failed", "dataSource": SR,
         "metric": "Report Count", "groupBy": "Status", "filters": {"Status": ["processed", "failed"]}},
        {"id": "solat", "type": "Table", "title": "Latest reports", "dataSource": SR, "metric": "Score",
         "limit": 10},
    ],
}

MODEL_OVERVIEW = {
    "builtinKey": "model-overview",
    "title": "Model overview",
    "description": "Trained models of this account group: metrics by model version and the active model.",
    "widgets": [
        {"id": "moact", "type": "Number", "title": "Active model", "numberCards": [
            {"id": "moacc", "description": "Accuracy", "dataSource": TR, "metric": "Accuracy",
             "measure": {"type": "Maximum"}, "filters": ACTIVE},
            {"id": "mopre", "description": "Precision", "dataSource": TR, "metric": "Precision",
             "measure": {"type": "Maximum"}, "filters": ACTIVE},
            {"id": "moauc", "description": "AUC", "dataSource": TR, "metric": "AUC",
             "measure": {"type": "Maximum"}, "filters": ACTIVE},
            {"id": "mormx", "description": "RMSE", "dataSource": TR, "metric": "RMSE",
             "measure": {"type": "Maximum"}, "filters": ACTIVE},
            {"id": "mosco", "description": "Reports scored in the period", "dataSource": SR,
             "metric": "Report Count", "filters": ACTIVE},
        ]},
        {"id": "momet", "type": "Multi Metric Table", "title": "Metrics by model version",
         "groupBy": "Score Version", "sortBy": "Alphabetical", "sortDirection": "Descending",
         "multiMetricColumns": [
             {"id": "mocac", "dataSource": TR, "metric": "Accuracy", "measure": {"type": "Mean"}},
             {"id": "mocpr", "dataSource": TR, "metric": "Precision", "measure": {"type": "Mean"}},
             {"id": "mocau", "dataSource": TR, "metric": "AUC", "measure": {"type": "Mean"}},
             {"id": "mocma", "dataSource": TR, "metric": "MAE", "measure": {"type": "Mean"}},
             {"id": "mocrm", "dataSource": TR, "metric": "RMSE", "measure": {"type": "Mean"}},
             {"id": "mocdu", "dataSource": TR, "metric": "Training Duration", "measure": {"type": "Mean"}},
         ]},
    ],
}

MH = "Model Health"
MODEL_HEALTH = {
    "builtinKey": "model-health",
    "title": "Model health",
    "description": "Is the active model still right: score and feature stability against its training, "
                   "realized performance on reports with an outcome, and the challenger beside it.",
    "widgets": [
        {"id": "mhact", "type": "Number", "title": "Active model health", "numberCards": [
            {"id": "mhpsi", "description": "Score PSI", "dataSource": MH, "metric": "Score PSI"},
            {"id": "mhauc", "description": "AUC on outcomes", "dataSource": MH, "metric": "AUC"},
            {"id": "mhkst", "description": "KS", "dataSource": MH, "metric": "KS"},
            {"id": "mhbad", "description": "Bad rate", "dataSource": MH, "metric": "Bad Rate"},
            {"id": "mhcal", "description": "Calibration error", "dataSource": MH, "metric": "Calibration Error"},
            {"id": "mhagr", "description": "Challenger agreement", "dataSource": MH,
             "metric": "Challenger Agreement"},
            {"id": "mhcnt", "description": "Reports scored", "dataSource": MH, "metric": "Scored Reports"},
        ]},
        {"id": "mhfps", "type": "Table", "title": "Feature PSI", "dataSource": MH, "metric": "Feature PSI",
         "groupBy": "Feature", "sortBy": "Value", "sortDirection": "Descending"},
        {"id": "mhpst", "type": "Time Series: Line", "title": "Score PSI over time", "dataSource": MH,
         "metric": "Score PSI", "groupBy": "Score Version"},
        {"id": "mhaut", "type": "Time Series: Line", "title": "AUC over time", "dataSource": MH, "metric": "AUC",
         "groupBy": "Score Version"},
        {"id": "mhagt", "type": "Time Series: Line", "title": "Challenger agreement over time", "dataSource": MH,
         "metric": "Challenger Agreement"},
    ],
}

BUILTIN_REPORTS = (SCORING_OVERVIEW, MODEL_OVERVIEW, MODEL_HEALTH)


def all_present(keys):
    return all(definition["builtinKey"] in keys for definition in BUILTIN_REPORTS)


def ensure_builtin_reports(aid, db=None):
    """Idempotent: creates whichever built-in reports the group lacks."""
    db = db if db is not None else get_db()
    present = {doc["builtinKey"] for doc in db.dashboards.find({"aid": aid, "isBuiltIn": True}, {"builtinKey": 1})}
    for definition in BUILTIN_REPORTS:
        if definition["builtinKey"] in present:
            continue
        doc = new_report(db, aid, definition["title"], definition["description"],
                         clean_widgets(definition["widgets"]), builtin_key=definition["builtinKey"])
        try:
            db.dashboards.insert_one(doc)
        except DuplicateKeyError:
            pass  # a concurrent request created it first


@GROUP_CREATED.connect
def create_builtin_reports(aid):
    """A failure here must not fail the group's creation: the first GET /v6/reports fills the gap."""
    try:
        ensure_builtin_reports(aid)
    except PyMongoError:
        log.warning("could not create built-in reports for group %s; they will be created on first listing", aid)
