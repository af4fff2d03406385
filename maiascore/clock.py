"""Time as MongoDB stores it."""
from datetime import datetime, timezone


def utcnow():
    return datetime.now(timezone.utc)


def to_millis(moment):
    """MongoDB keeps milliseconds: an answer shows the times a later GET will show."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def stored_now():
    """Now at MongoDB's precision, so a POST shows the timestamps a later GET will."""
    return to_millis(utcnow())
