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

A pass that inserts its one report (a waiting POST, scored in the request) does not apply its
deltas itself: its pending document is marked ``due`` for the group, and ``fold_due`` applies every
due pass of the group together, FOLD_DELAY_SECONDS after the first (``request_fold``): one update
per counter document for all of them instead of three writes per report. One fold of a group runs
at a time (a lock in Redis), so two folds never apply the same pass; the counters lag the reports
by about that delay.
"""
from datetime import timedelta, timezone

import redis.exceptions
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from config import settings
from maiascore.clock import utcnow
from maiascore.connections import get_db, get_redis, redis_key, run_script
from maiascore.queue import ALERTS, enqueue

FOLD_DELAY_SECONDS = 1.0  # a group's due passes wait at most this long (plus the scheduler's poll) for their fold
FOLD_LIMIT = 500  # passes one fold applies; past it the fold queues the next at once
FOLD_LOCK_SECONDS = 120  # a fold's hold on its group; a fold takes well under a second
APPLIED_KEPT = 2000  # a bound on the tokens a counter document holds (passes killed between their last two steps)
OUTCOMES = ("good", "bad")
REPORT_FIELDS = {"aid": 1, "outcome": 1, "mon": 1, "monToken": 1}  # what a scoring read projects for ``shadow.scoring_pass``


# KEYS: a fold's lock. ARGV: its holder. Deletes the lock only if it is still this holder's.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


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


def record_pending(token, items, due=None):
    """``items``: [(report id, mon, {path: increment})], stored before the write they belong to; ``mon``
    names the counter document (``a`` group, ``v`` version, ``h`` hour); ``due``: the group whose fold
    applies them (``fold_due``). Returns the stored items."""
    stored = [{"r": rid, "a": mon["a"], "v": mon["v"], "h": mon["h"], "d": delta} for rid, mon, delta in items]
    if stored:
        doc = {"_id": token, "created_at": utcnow(), "items": stored}
        if due is not None:
            doc["due"] = due
        get_db().monitoring_pending.insert_one(doc)
    return stored


def token_fields(token, report):
    """The fields of a report's write that mark it as counted by ``token``; the token it had stays
    beside it, so a report scored again before the sweep applied its previous pass still counts there."""
    return {"monToken": token, "monPrevToken": report.get("monToken")}


def apply_pending(token, written=None, items=None):
    """Adds the pending deltas of the reports written; ``written``: their ids when the caller knows
    them, else the reports carrying the token are read; ``items``: the pass's own, else they are read."""
    db = get_db()
    pending = {"_id": token, "items": items} if items is not None else db.monitoring_pending.find_one({"_id": token})
    if pending is None:
        return 0
    if written is not None:
        return _apply_passes(db, [pending], {rid: {token} for rid in written})
    return _apply_passes(db, [pending])


def _carried(db, passes):
    """Report id -> the pass tokens it carries: a report a pass did not write (scored meanwhile by
    another) carries another token, and is not counted by it."""
    ids = list({item["r"] for p in passes for item in p["items"]})
    return {r["_id"]: {r.get("monToken"), r.get("monPrevToken")}
            for r in db.score_reports.find({"_id": {"$in": ids}}, {"monToken": 1, "monPrevToken": 1})}


def _apply_passes(db, passes, carried=None):
    """Applies the passes' deltas, all of them in one update per counter document, guarded by their
    tokens; then their pending documents go and the counter documents forget the tokens. Where one of
    the tokens was applied already (a fold killed midway), pass by pass. How many reports counted."""
    carried = _carried(db, passes) if carried is None else carried
    tokens = [p["_id"] for p in passes]
    per_doc, counted = {}, set()
    for p in passes:
        for item in p["items"]:
            if p["_id"] in carried.get(item["r"], ()):
                counted.add(item["r"])
                into = per_doc.setdefault((item["a"], item["v"], item["h"]), {})
                for path, value in item["d"].items():
                    _add(into, path, value)
    applied = [_apply(db, aid, version, hour, tokens, inc) for (aid, version, hour), inc in per_doc.items()]
    if len(passes) > 1 and not all(ok for _, ok in applied):
        for p in passes:
            _apply_passes(db, [p], carried)
        return len(counted)
    db.monitoring_pending.delete_many({"_id": {"$in": tokens}})
    # nothing can apply these tokens again now: the counter documents forget them, so their guards stay short
    for key in {key for key, _ in applied if key is not None}:
        db.monitoring_counts.update_one({"_id": key}, {"$pull": {"ap": {"$in": tokens}}})
    return len(counted)


def _apply(db, aid, version, hour, tokens, inc):
    """Adds ``inc`` to the counter document unless it applied one of ``tokens`` already: ``(its key,
    whether it was added)``; no key when there is nothing to add."""
    inc = {k: v for k, v in inc.items() if v != 0}
    if not inc:
        return None, True
    hour = hour if hour.tzinfo else hour.replace(tzinfo=timezone.utc)
    key = counter_key(aid, version, hour)
    try:
        db.monitoring_counts.update_one(
            {"_id": key, "ap": {"$nin": tokens}},
            {"$inc": inc, "$push": {"ap": {"$each": tokens, "$slice": -APPLIED_KEPT}},
             "$setOnInsert": {"aid": aid, "version": version, "hour": hour}},
            upsert=True)
    except DuplicateKeyError:  # applied already, by the pass, a fold or the sweep
        return key, False
    return key, True


def request_fold(aid):
    """The fold of the group's due passes, FOLD_DELAY_SECONDS after the first one not folded yet: a pass
    that finds a fold requested was stored before that fold reads. Redis down: the sweep folds them."""
    try:
        if get_redis().set(redis_key("fold", aid), 1, nx=True, px=int(FOLD_DELAY_SECONDS * 1000)):
            enqueue(ALERTS, fold_due, aid, at=utcnow() + timedelta(seconds=FOLD_DELAY_SECONDS))
    except redis.exceptions.RedisError:
        pass


def fold_due(aid):
    """Applies the group's due passes together; safe to run twice. One fold of a group runs at a time (a lock
    in Redis for FOLD_LOCK_SECONDS): another finds the lock taken and comes back after it."""
    lock, holder = redis_key("fold-lock", aid), new_token()
    try:
        if not get_redis().set(lock, holder, nx=True, ex=FOLD_LOCK_SECONDS):
            enqueue(ALERTS, fold_due, aid, at=utcnow() + timedelta(seconds=FOLD_DELAY_SECONDS))
            return 0
    except redis.exceptions.RedisError:
        return 0  # without the lock two folds could apply a pass twice: the sweep folds once Redis answers
    try:
        db = get_db()
        due = list(db.monitoring_pending.find({"due": aid}).limit(FOLD_LIMIT))
        counted = _apply_passes(db, due) if due else 0
    finally:
        try:
            run_script(_UNLOCK, [lock], [holder])
        except redis.exceptions.RedisError:
            pass  # it expires
    if len(due) == FOLD_LIMIT:
        enqueue(ALERTS, fold_due, aid)
    return counted


def recover_pending():
    """The sweep: applies what passes killed before their counters left behind. Only documents older
    than any live pass can be, so a pass and the sweep never read different sets of written reports."""
    cfg = settings()
    cutoff = utcnow() - timedelta(seconds=2 * max(cfg.SWEEP_GRACE_SECONDS, cfg.SCORING_LEASE_SECONDS))
    db = get_db()
    tokens = [p["_id"] for p in db.monitoring_pending.find({"created_at": {"$lt": cutoff}, "due": {"$exists": False}},
                                                           {"_id": 1}).limit(1000)]
    for token in tokens:  # killed passes: pass by pass, each guarded by its token
        apply_pending(token)
    # due passes whose fold never ran (Redis lost it, or no worker serves its queue): folded, many at once
    late = utcnow() - timedelta(seconds=cfg.SWEEP_GRACE_SECONDS)
    for aid in db.monitoring_pending.distinct("due", {"due": {"$exists": True}, "created_at": {"$lt": late}}):
        fold_due(aid)
    return len(tokens)


def window_docs(aid, version, start, end, projection=None):
    """The counter documents of a version whose hour starts in [hour_of(start), end)."""
    query = {"aid": aid, "hour": {"$gte": hour_of(start), "$lt": end}}
    if version is not None:
        query["version"] = str(version)
    return list(get_db().monitoring_counts.find(query, projection or {"ap": 0}).sort("hour", 1))

