"""Per-version, per-hour counters of scored reports, kept exactly once.

One counter document per (group, version, hour) holds: ``n`` reports scored; ``s.<score>``
how many got each integer score; ``f.<feature index>.<bin>`` the feature bins; ``o.<score>``
the labelled ones (``g``/``b`` good and bad, ``p``/``q`` sums of P(good) and of its square,
``pg`` the sum of P(good) over the good ones); ``ch.<challenger version>`` the shadow
comparison (``n``, ``agree``, sums for the score correlation, ``oa``/``oc`` champion and
challenger scores of the labelled ones).

Exactly once: a pass first stores its deltas (``monitoring_pending``, one document per pass,
keyed by a fresh token), then the results write sets the token on each report it matches
(``monToken``, the previous one kept as ``monPrevToken``), then the counters take the deltas of the reports that carry the token, each
counter document guarded by the tokens it has applied (``ap``), and the pending document goes.
A pass killed anywhere leaves its pending document; the sweep applies it the same way, so a
delta lands once whether the pass or the sweep (or both) apply it, and a report the pass did
not write (scored meanwhile by another run) is never counted. Once the pending document is gone
nothing applies its token again, and the counter documents forget it: ``ap`` holds the tokens of
passes in flight, not of every pass, so its guard costs the same at any rate of scoring.
"""
from datetime import timedelta, timezone

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from config import settings
from maiascore.clock import utcnow
from maiascore.connections import get_db

APPLIED_KEPT = 2000  # a bound on the tokens a counter document holds (passes killed between their last two steps)
OUTCOMES = ("good", "bad")
REPORT_FIELDS = {"aid": 1, "outcome": 1, "mon": 1, "monToken": 1}  # what a scoring read projects for ``shadow.scoring_pass``


def hour_of(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


def counter_key(aid, version, hour):
    return f"{aid}:{version}:{hour.strftime('%Y%m%d%H')}"


def _add(out, path, value):
    out[path] = out.get(path, 0) + value


def _outcome(out, prefix, score, outcome, sign, probability=None):
    base = f"{prefix}.{int(score)}"
    _add(out, f"{base}.{'g' if outcome == 'good' else 'b'}", sign)
    if probability is not None:
        p = float(probability)
        _add(out, f"{base}.p", sign * p)
        _add(out, f"{base}.q", sign * p * p)
        if outcome == "good":
            _add(out, f"{base}.pg", sign * p)


def labelled(out, mon, outcome, sign):
    """What a report's outcome adds to its counter document (``sign`` -1 takes it back)."""
    if outcome not in OUTCOMES:
        return out
    _outcome(out, "o", mon["s"], outcome, sign, mon["p"])
    if mon.get("cv") is not None:
        _add(out, f"ch.{mon['cv']}.labelled", sign)
        _outcome(out, f"ch.{mon['cv']}.oa", mon["s"], outcome, sign)
        _outcome(out, f"ch.{mon['cv']}.oc", mon["cs"], outcome, sign)
    return out


def scored(mon, labels):
    """What one scored report adds: its score, its feature bins, its shadow comparison, its outcome."""
    out = {"n": 1, f"s.{int(mon['s'])}": 1}
    for j, label in enumerate(labels):
        out[f"f.{j}.{label}"] = 1
    if mon.get("cv") is not None:
        x, y = float(mon["s"]), float(mon["cs"])
        agree = int((mon["p"] >= 0.5) == (mon["cp"] >= 0.5))
        for name, value in (("n", 1), ("agree", agree), ("sx", x), ("sy", y), ("sxx", x * x), ("syy", y * y),
                            ("sxy", x * y)):
            out[f"ch.{mon['cv']}.{name}"] = value
    return labelled(out, mon, mon.get("o"), 1)


def new_token():
    return str(ObjectId())


def record_pending(token, items):
    """``items``: [(report id, mon, {path: increment})], stored before the write they belong to; ``mon``
    names the counter document (``a`` group, ``v`` version, ``h`` hour). Returns the stored items."""
    stored = [{"r": rid, "a": mon["a"], "v": mon["v"], "h": mon["h"], "d": delta} for rid, mon, delta in items]
    if stored:
        get_db().monitoring_pending.insert_one({"_id": token, "created_at": utcnow(), "items": stored})
    return stored


def token_fields(token, report):
    """The fields of a report's write that mark it as counted by ``token``; the token it had stays
    beside it, so a report scored again before the sweep applied its previous pass still counts there."""
    return {"monToken": token, "monPrevToken": report.get("monToken")}


def apply_pending(token, written=None, items=None):
    """Adds the pending deltas of the reports written; ``written``: their ids when the caller knows
    them, else the reports carrying the token are read; ``items``: the pass's own, else they are read."""
    db = get_db()
    pending = {"items": items} if items is not None else db.monitoring_pending.find_one({"_id": token})
    if pending is None:
        return 0
    if written is None:
        ids = list({item["r"] for item in pending["items"]})
        written = {r["_id"] for r in db.score_reports.find(
            {"_id": {"$in": ids}, "$or": [{"monToken": token}, {"monPrevToken": token}]}, {"_id": 1})}
    per_doc = {}
    for item in pending["items"]:
        if item["r"] in written:
            into = per_doc.setdefault((item["a"], item["v"], item["h"]), {})
            for path, value in item["d"].items():
                _add(into, path, value)
    applied = [_apply(db, aid, version, hour, token, inc) for (aid, version, hour), inc in per_doc.items()]
    db.monitoring_pending.delete_one({"_id": token})
    # nothing can apply the token again now: the counter documents forget it, so that their guards stay short
    for key in filter(None, applied):
        db.monitoring_counts.update_one({"_id": key}, {"$pull": {"ap": token}})
    return len(written)


def _apply(db, aid, version, hour, token, inc):
    """Adds ``inc`` to the counter document unless it applied ``token`` already; its key, or None."""
    inc = {k: v for k, v in inc.items() if v != 0}
    if not inc:
        return None
    hour = hour if hour.tzinfo else hour.replace(tzinfo=timezone.utc)
    key = counter_key(aid, version, hour)
    try:
        db.monitoring_counts.update_one(
            {"_id": key, "ap": {"$ne": token}},
            {"$inc": inc, "$push": {"ap": {"$each": [token], "$slice": -APPLIED_KEPT}},
             "$setOnInsert": {"aid": aid, "version": version, "hour": hour}},
            upsert=True)
    except DuplicateKeyError:  # applied already, by the pass or by the sweep
        pass
    return key


def recover_pending():
    """The sweep: applies what passes killed before their counters left behind. Only documents older
    than any live pass can be, so a pass and the sweep never read different sets of written reports."""
    cfg = settings()
    cutoff = utcnow() - timedelta(seconds=2 * max(cfg.SWEEP_GRACE_SECONDS, cfg.SCORING_LEASE_SECONDS))
    tokens = [p["_id"] for p in get_db().monitoring_pending.find({"created_at": {"$lt": cutoff}}, {"_id": 1})
              .limit(1000)]
    for token in tokens:
        apply_pending(token)
    return len(tokens)


def window_docs(aid, version, start, end, projection=None):
    """The counter documents of a version whose hour starts in [hour_of(start), end)."""
    query = {"aid": aid, "hour": {"$gte": hour_of(start), "$lt": end}}
    if version is not None:
        query["version"] = str(version)
    return list(get_db().monitoring_counts.find(query, projection or {"ap": 0}).sort("hour", 1))

