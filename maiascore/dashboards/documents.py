"""The stored form of a new report, shared by the reports users make and the built-in ones.

Both number reports from one sequence, so a built-in report and a user's never share an id.
"""
from maiascore.clock import utcnow
from maiascore.connections import next_sequence

REPORT_SEQUENCE = "dashboards"


def new_report(db, aid, title, description, widgets, user_id=None, builtin_key=None):
    """A report document not yet inserted: numbered, timestamped, default for nobody."""
    seq = next_sequence(REPORT_SEQUENCE, db)
    now = utcnow()
    doc = {"aid": aid, "reportId": str(seq), "seq": seq}
    if builtin_key:
        doc["builtinKey"] = builtin_key
    doc.update({
        "title": title, "description": description, "isBuiltIn": builtin_key is not None, "widgets": widgets,
        "createdBy": user_id, "modifiedBy": user_id, "created_at": now, "modified_at": now,
        "defaultForUsers": [], "isDefaultForAccount": False,
    })
    return doc
