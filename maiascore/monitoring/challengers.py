"""The challenger: another version of the group scored in shadow beside the active one.

One document per group in ``model_challengers``: the challenger's version and the active
version it challenges. It shadows only while that version is the active one; activating any
model (the challenger itself: a promotion) clears it.
"""
from maiascore.clock import stored_now
from maiascore.connections import get_db
from maiascore.errors import Conflict, Invalid, NotFound
from maiascore.events import MODEL_ACTIVATED
from maiascore.trainings.registry import active_model


def get(aid):
    return get_db().model_challengers.find_one({"_id": aid})


def for_scoring(aid, active_version):
    """The version that shadows ``active_version``'s scoring, or None."""
    doc = get(aid)
    if doc is None or doc["champion"] != active_version or doc["version"] == active_version:
        return None
    return doc["version"]


def set_challenger(aid, version, user_id):
    version = str(version)
    model = get_db().models.find_one({"aid": aid, "version": version}, {"_id": 1})
    if model is None:
        raise NotFound(f"No model version {version} in this account group")
    active = active_model(aid)
    if active is None:
        raise Conflict("This account group has no active model to challenge")
    if active["version"] == version:
        raise Invalid(f"Version {version} is the active model: a challenger must be another version")
    doc = {"_id": aid, "version": version, "champion": active["version"], "set_at": stored_now(),
           "set_by": user_id}
    get_db().model_challengers.replace_one({"_id": aid}, doc, upsert=True)
    return doc


def clear(aid):
    deleted = get_db().model_challengers.find_one_and_delete({"_id": aid})
    if deleted is None:
        raise NotFound("This account group has no challenger")
    return deleted


@MODEL_ACTIVATED.connect
def clear_on_activation(aid, version):
    """A new champion (the challenger promoted, or any other) ends the challenge."""
    get_db().model_challengers.delete_one({"_id": aid})
