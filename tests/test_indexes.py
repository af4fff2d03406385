"""Indexes are declared once and brought to their declared shape at every start."""
from maiascore.indexes import INDEXES, SUPERSEDED, ensure_indexes


def test_an_upgrade_drops_the_index_a_newer_one_serves(db):
    db.score_reports.create_index([("batch", 1), ("status", 1)])
    assert "batch_1_status_1" in db.score_reports.index_information()
    ensure_indexes(db)
    names = db.score_reports.index_information()
    assert "batch_1_status_1" not in names and "batch_1_status_1__id_1" in names
    ensure_indexes(db)  # idempotent: a second start changes nothing
    assert set(db.score_reports.index_information()) == set(names)


def test_nothing_superseded_is_still_declared():
    for collection, dropped in SUPERSEDED.items():
        declared = {model.document["name"] for model in INDEXES[collection]}
        assert not declared & set(dropped)
