"""The group's score reports whose outcome is known: what a training on ``reports`` reads."""
from maiascore.connections import get_db

LABELS = ("bad", "good")


def _labelled(aid):
    return {"aid": aid, "outcome": {"$in": list(LABELS)}}


def count_labelled(aid, limit=None):
    """How many reports have a known outcome, counted up to ``limit`` when given."""
    return get_db().score_reports.count_documents(_labelled(aid), **({"limit": limit} if limit else {}))


def count_feature_names(aid, limit, without):
    """How many distinct feature names (``without`` left out) the labelled reports carry, up to ``limit``."""
    pipeline = [
        {"$match": {**_labelled(aid), "features": {"$type": "object"}}},
        {"$project": {"_id": 0, "k": {"$objectToArray": "$features"}}},
        {"$unwind": "$k"},
        {"$match": {"k.k": {"$ne": without}}},
        {"$group": {"_id": "$k.k"}},
        {"$limit": limit},
        {"$count": "n"},
    ]
    counted = list(get_db().score_reports.aggregate(pipeline))
    return counted[0]["n"] if counted else 0


def labelled_features(aid):
    """``{features, outcome}`` of every labelled report, streamed in batches."""
    return get_db().score_reports.find(_labelled(aid), {"_id": 0, "features": 1, "outcome": 1}).batch_size(5000)
