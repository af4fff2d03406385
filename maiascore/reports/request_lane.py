"""The request lane: a POST that waits for its score is scored in the web process that received it.

The web process keeps each group's active model (``scoring.scoring_model``, least recently
used out past MODEL_CACHE_BYTES), scores and explains the report, and stores it with its
result in one insert, the same write the single lane's drain makes for a report handed to
it (``scoring.insert_scored``: the counters of model health in the same document). No
queue and no worker between the request and its answer.

The workers stay the lane for everything else, and take over a waiting POST when:
WEB_SCORING is off; the group has no active model (its report waits for one, as any);
the model's binary is larger than WEB_SCORING_MAX_MODEL_BYTES, or scoring a report with it
took longer than WEB_SCORING_MAX_MS SLOW_STREAK times in a row (the web process serves every
group from one loop, which stands still while it scores); the group's reports took WEB_SCORING_MS_PER_MINUTE of the web
processes' time this minute; or the report cannot be scored (the drain's retries and failure
reason apply to it).

Exactly once: the report is stored only here, once, already scored; a ``uuid`` stored
before answers the stored report, and nothing is written for it. A request that dies
before its insert stored nothing and answered nothing.
"""
import logging
import time

from config import settings
from maiascore import costs
from maiascore.connections import get_db
from maiascore.reports import scoring, service
from maiascore.reports.documents import with_result
from maiascore.trainings.registry import active_model_for_scoring

log = logging.getLogger("maiascore.reports")

SLOW_STREAK = 3  # scorings past WEB_SCORING_MAX_MS in a row that send a model to the workers (a first call warms up)
SLOW_FOR_SECONDS = 600  # then how long its reports go to the workers before this process measures it again
_slow = {}  # models doc id -> scorings past the bound in a row
_too_slow = {}  # models doc id -> monotonic time until which its reports go to the workers


def score_in_request(doc, caller):
    """The report of ``service.new_report`` stored with its result, or None: the workers score it."""
    cfg = settings()
    if not cfg.WEB_SCORING or not costs.web_scoring_allowed(caller.aid):
        return None
    model_doc = active_model_for_scoring(caller.aid)
    if model_doc is None:
        return None
    if _too_slow.get(model_doc["_id"], 0) > time.monotonic():
        return None
    # the thread's CPU: a load from GridFS aside, nothing here yields to other requests, and the time the OS
    # gave to other processes is not this group's
    started = time.thread_time()
    try:
        model = scoring.scoring_model(caller.aid, model_doc, max_bytes=cfg.WEB_SCORING_MAX_MODEL_BYTES)
        cpu = time.thread_time()
        scored, results, _, _ = scoring.score(model, [doc])
        _measure(model_doc, (time.thread_time() - cpu) * 1000, cfg.WEB_SCORING_MAX_MS, caller.aid)
    except scoring.TooLarge:
        return None
    except Exception:  # a binary that will not load: the workers' retries and failure reason apply
        log.warning("could not load model %s of group %s in the web process", model_doc.get("version"),
                    caller.aid, exc_info=True)
        return None
    finally:
        costs.spend_web_scoring(caller.aid, time.thread_time() - started)
    if not scored:  # the drain scores it, with its retries, or fails it with the reason
        return None
    fields, duplicates = scoring.insert_scored(get_db(), scored, results)
    return service.stored_instead(doc, caller) if duplicates else with_result(doc, fields[0])


def _measure(model_doc, ms, bound, aid):
    """A model past ``bound`` SLOW_STREAK times in a row is scored by the workers for SLOW_FOR_SECONDS: the
    loop of this web process stands still while it scores, for every group."""
    doc_id = model_doc["_id"]
    if ms <= bound:
        _slow.pop(doc_id, None)
        return
    _slow[doc_id] = _slow.get(doc_id, 0) + 1
    if _slow[doc_id] >= SLOW_STREAK:
        _slow.pop(doc_id)
        _too_slow[doc_id] = time.monotonic() + SLOW_FOR_SECONDS
        log.info("model %s of group %s took over WEB_SCORING_MAX_MS (%s ms) to score a report %s times in a row: "
                 "scored by the workers for %s s", model_doc.get("version"), aid, bound, SLOW_STREAK, SLOW_FOR_SECONDS)
