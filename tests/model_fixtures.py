"""A real german-credit XGBoost model registered for an account group, without going through a training job.

    from model_fixtures import install_model
    model_doc = install_model(aid)            # stored in GridFS bucket ``models`` and active
    install_model(aid, activate=False)        # stored only

The model is trained once per test process (20 boosting rounds, a fraction of a second)
and registered through ``maiascore.trainings.registry`` like a succeeded training's.
"""
from bson import ObjectId

TARGET = "creditability"
_trained = {}


def trained_model(rounds=20):
    """The ``TrainedModel`` (booster bytes, schema, metrics), memoised per process."""
    if rounds not in _trained:
        from maiascore.modeling import load_sample, train

        _trained[rounds] = train(load_sample("german-credit"), TARGET, {"num_boost_round": rounds})
    return _trained[rounds]


def install_model(aid, activate=True, rounds=20):
    """Registers the model for ``aid`` (a new version each call); returns the ``models`` doc.

    Must run inside an app context or with the test's MONGO_DB_NAME in the environment
    (the ``db``/``app`` fixtures arrange both).
    """
    from maiascore.trainings import registry

    model = trained_model(rounds)
    training_id = str(ObjectId())
    doc = registry.store_model(aid, training_id, registry.new_version(aid), model.booster_bytes,
                               model.schema.to_dict(), model.metrics)
    if activate:
        doc = registry.activate(aid, training_id)
    return doc


def german_rows(n=None):
    """Applicants from the sample data set, as ``features`` dicts (target removed)."""
    from maiascore.modeling import load_sample

    rows = [{k: v for k, v in row.items() if k != TARGET} for row in load_sample("german-credit").rows]
    return rows if n is None else [rows[i % len(rows)] for i in range(n)]
