"""Any two-label target, the curves stored with the metrics, and sparse columns built from present cells."""
import numpy as np
import pytest

from maiascore.modeling import DatasetError, ScoringModel, binary_target, evaluate, parse_csv, train
from maiascore.modeling.columns import column_from_values, sparse_column
from maiascore.modeling.training import CURVE_POINTS, curves
from test_modeling import make_csv


def churn(n=200):
    rows = [[(i % 7) + 1 if i % 4 == 0 else 30 + i % 50, "basic" if i % 2 else "premium",
             "churned" if i % 4 == 0 else "stayed"] for i in range(n)]
    return parse_csv(make_csv(["tenure", "plan", "status"], rows))


def test_two_labels_and_the_positive_one():
    data = churn()
    with pytest.raises(DatasetError, match="'churned' and 'stayed', not a known pair.*positiveLabel"):
        binary_target(data, "status")
    target = binary_target(data, "status", "churned")
    assert (target.positive, target.negative) == ("churned", "stayed") and target.labels.sum() == 50
    assert binary_target(data, "status", " STAYED ").labels.sum() == 150
    with pytest.raises(DatasetError, match="positiveLabel 'gone' is not a label"):
        binary_target(data, "status", "gone")
    numbers = parse_csv(make_csv(["x", "y"], [[i, 2 if i % 2 else 1] for i in range(20)]))
    assert binary_target(numbers, "y", "2.0").positive == "2"
    known = parse_csv(make_csv(["x", "y"], [[i, "yes" if i % 2 else "no"] for i in range(20)]))
    assert binary_target(known, "y").positive == "yes" and binary_target(known, "y", "no").labels.sum() == 10
    many = parse_csv(make_csv(["x", "y"], [[i, f"c{i % 12}"] for i in range(24)]))
    with pytest.raises(DatasetError, match="12 labels \\('c0', 'c1', .* and 2 more\\)"):
        binary_target(many, "y")


def test_a_minority_positive_class_drives_scores_explanations_and_metrics():
    data = churn()
    model = train(data, "status", params={"num_boost_round": 60}, positive_label="churned")
    m = model.metrics
    assert m["positiveLabel"] == "churned" and m["auc"] >= 0.9
    c = m["confusion"]
    assert c["tp"] + c["fn"] == 10 and c["tn"] + c["fp"] == 30  # a fifth of 50 churned and 150 stayed
    assert m["confusionMatrix"] == {"threshold": 0.5, "labels": ["stayed", "churned"],
                                    "matrix": [[c["tn"], c["fp"]], [c["fn"], c["tp"]]]}
    scorer = ScoringModel.from_bytes(model.booster_bytes, model.schema.to_dict(), "1")
    short, long = scorer.score([{"tenure": 2, "plan": "basic"}, {"tenure": 60, "plan": "basic"}])
    assert short.probability > 0.5 > long.probability  # P(churned)
    assert {e["feature"]: e["contribution"] for e in short.explanation}["tenure"] > 0
    flipped = train(data, "status", params={"num_boost_round": 60}, positive_label="stayed")
    assert flipped.metrics["confusion"]["tp"] + flipped.metrics["confusion"]["fn"] == 30
    assert scorer.score([{"tenure": 2}])[0].probability + ScoringModel.from_bytes(
        flipped.booster_bytes, flipped.schema.to_dict(), "2").score([{"tenure": 2}])[0].probability == \
        pytest.approx(1, abs=0.1)


def test_curves_are_bounded_monotone_and_match_the_counts():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    p = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 0.999)
    m = evaluate(y, p)
    roc, pr = m["roc"], m["precisionRecall"]
    assert 2 <= len(roc) <= CURVE_POINTS and len(pr) <= CURVE_POINTS
    assert roc[0] == {"threshold": 1.0, "fpr": 0.0, "tpr": 0.0} and (roc[-1]["fpr"], roc[-1]["tpr"]) == (1.0, 1.0)
    thresholds = [point["threshold"] for point in roc]
    assert thresholds == sorted(thresholds, reverse=True)
    assert all(a["fpr"] <= b["fpr"] and a["tpr"] <= b["tpr"] for a, b in zip(roc, roc[1:]))
    for point in pr:
        predicted = p >= point["threshold"] - 1e-6
        tp = int((predicted & (y == 1)).sum())
        assert point["recall"] == pytest.approx(tp / (y == 1).sum(), abs=1e-3)
        assert point["precision"] == pytest.approx(tp / predicted.sum(), abs=1e-3)
    assert m["recall"] == round(m["confusion"]["tp"] / (m["confusion"]["tp"] + m["confusion"]["fn"]), 6)
    few = curves(np.array([True, False, True]), np.array([0.9, 0.4, 0.4]))
    assert [pt["threshold"] for pt in few["roc"]] == [1.0, 0.9, 0.4]


@pytest.mark.parametrize("cells", [
    [None, "3", None, "1.5", None],
    [None, "Lyon", None, "Porto", "Lyon"],
    [None, None, None, None, None],
])
def test_a_sparse_column_is_the_full_column(cells):
    rows = np.array([i for i, c in enumerate(cells) if c is not None], dtype=np.int64)
    sparse = sparse_column(len(cells), rows, [c for c in cells if c is not None])
    full = column_from_values(cells)
    assert sparse.type == full.type and sparse.cells() == full.cells()
    assert (sparse.missing == full.missing).all()
