"""An outcome set or changed on a scored report moves its labelled counts, exactly once."""
from pymongo import ReturnDocument

from maiascore.monitoring import counters

PROCESSED = "processed"


class OutcomeChange:
    def __init__(self, doc, outcome):
        self.doc, self.outcome = doc, outcome
        self.token = counters.new_token()
        mon = doc["mon"]
        delta = counters.labelled(counters.labelled({}, mon, mon.get("o"), -1), mon, outcome, 1)
        self.items = counters.record_pending(self.token, [(doc["_id"], mon, delta)])

    def write(self, collection, query, fields):
        """The report's update guarded by the counted state it was read in; None when that changed
        (re-scored meanwhile): the caller then writes without counting, and the next scoring counts it."""
        change = {"$set": {**fields, "mon.o": self.outcome, **counters.token_fields(self.token, self.doc)}}
        updated = collection.find_one_and_update({**query, "status": PROCESSED, "mon": self.doc["mon"]}, change,
                                                 return_document=ReturnDocument.AFTER)
        counters.apply_pending(self.token, set() if updated is None else {self.doc["_id"]}, self.items)
        return updated


def counted_change(doc, fields, requeue):
    """An ``OutcomeChange`` when the update changes what a scored report's outcome counts, else None."""
    if requeue or "outcome" not in fields or not doc.get("mon") or doc.get("status") != PROCESSED:
        return None
    if fields["outcome"] == doc["mon"].get("o"):
        return None
    return OutcomeChange(doc, fields["outcome"])
