"""Readiness: whether each backing store answers right now."""
from maiascore.connections import get_db, get_redis

PROBES = (("mongo", lambda: get_db().command("ping")), ("redis", lambda: get_redis().ping()))


def probe():
    """``{store: "ok" | "down"}``; any failure counts as down, whatever its kind."""
    checks = {}
    for name, check in PROBES:
        try:
            check()
            checks[name] = "ok"
        except Exception:
            checks[name] = "down"
    return checks
