"""Domain events: one domain announces, others react, neither imports the other.

A handler connects with ``@GROUP_CREATED.connect``; ``send`` calls every handler in
order and lets an exception propagate (the sender decides what a failure means).
Handlers are connected when their module is imported: ``maiascore.domains`` imports
every such module, and both the web app and the worker import it.
"""


class Event:
    def __init__(self, name):
        self.name = name
        self._handlers = []

    def connect(self, handler):
        if handler not in self._handlers:
            self._handlers.append(handler)
        return handler

    def send(self, **payload):
        return [handler(**payload) for handler in self._handlers]

    def __repr__(self):
        return f"Event({self.name!r})"


GROUP_CREATED = Event("group_created")  # payload: aid
MODEL_ACTIVATED = Event("model_activated")  # payload: aid, version
DATASET_DELETING = Event("dataset_deleting")  # payload: aid, dataset_id; a handler raises Conflict to refuse
# payload: trained (modeling.TrainedModel), dataset, target, meta: a handler may annotate ``trained``
# (monitoring adds its baseline) while the training rows are still at hand.
MODEL_TRAINED = Event("model_trained")
MODEL_STORED = Event("model_stored")  # payload: aid, version, trained: the version is registered
