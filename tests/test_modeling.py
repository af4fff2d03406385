import csv
import json
import math

import numpy as np
import pytest

import maiascore.modeling.datasets as datasets_module
from maiascore.modeling import (
    ALLOWED_PARAMS,
    Dataset,
    DatasetError,
    FeatureSchema,
    ScoreScale,
    ScoringModel,
    auc,
    build_matrix,
    dataset_matrix,
    infer_schema,
    labels_from,
    load_sample,
    parse_csv,
    train,
    validate_params,
)
from maiascore.modeling.training import stratified_split

TARGET = "creditability"


def make_csv(header, rows, delimiter=","):
    lines = [delimiter.join(header)] + [delimiter.join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def small_rows(n=30):
    return [[i, "a" if i % 2 else "b", "good" if i % 3 else "bad"] for i in range(n)]


@pytest.fixture(scope="module")
def german():
    return load_sample()


@pytest.fixture(scope="module")
def model(german):
    return train(german, TARGET)


@pytest.fixture(scope="module")
def scorer(model):
    schema_json = json.loads(json.dumps(model.schema.to_dict()))
    return ScoringModel.from_bytes(model.booster_bytes, schema_json, "v1")


def record_of(german, i=0):
    return {k: v for k, v in german.rows[i].items() if k != TARGET}


# --- CSV parsing -------------------------------------------------------------


def test_rejects_non_utf8():
    raw = "amount,purpose\n".encode() + "1,café\n".encode("latin-1") * 25
    with pytest.raises(DatasetError, match="file is not valid UTF-8 text"):
        parse_csv(raw)


def test_rejects_empty_file():
    with pytest.raises(DatasetError, match="empty"):
        parse_csv(b"  \n\n")


def test_ragged_row_reports_row_number():
    rows = small_rows()
    rows[16] = rows[16][:2]
    with pytest.raises(DatasetError) as err:
        parse_csv(make_csv(["amount", "kind", "y"], rows))
    assert str(err.value) == "row 17 has 2 fields, expected 3"


def test_rejects_fewer_than_20_rows():
    with pytest.raises(DatasetError, match="19 data rows; at least 20"):
        parse_csv(make_csv(["amount", "kind", "y"], small_rows(19)))
    assert len(parse_csv(make_csv(["amount", "kind", "y"], small_rows(20))).rows) == 20


@pytest.mark.parametrize(
    "header, message",
    [(["amount", "amount", "y"], "duplicate column name in header: 'amount'"), (["amount", "", "y"], "column 2")],
)
def test_rejects_bad_header(header, message):
    with pytest.raises(DatasetError, match=message):
        parse_csv(make_csv(header, small_rows()))


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_sniffs_delimiter_and_accepts_bom(delimiter):
    raw = b"\xef\xbb\xbf" + make_csv(["amount", "kind", "Outcome"], small_rows(), delimiter)
    ds = parse_csv(raw)
    assert ds.columns == ["amount", "kind", "Outcome"]
    assert ds.rows[1] == {"amount": "1", "kind": "a", "Outcome": "good"}
    assert ds.target == "Outcome"


def test_quoted_fields_keep_delimiters():
    rows = [[i, '"yes, registered"', "good" if i % 2 else "bad"] for i in range(25)]
    ds = parse_csv(make_csv(["amount", "phone", "label"], rows))
    assert ds.rows[0]["phone"] == "yes, registered"


def test_missing_tokens_and_type_inference():
    rows = [[str(i * 1.5), "x" if i % 2 else "7", "", "good" if i % 2 else "bad"] for i in range(25)]
    rows[3][0] = "NA"
    rows[4][0] = "null"
    ds = parse_csv(make_csv(["num", "mixed", "blank", "target"], rows))
    assert ds.rows[3]["num"] is None and ds.rows[4]["num"] is None
    assert ds.rows[0]["blank"] is None
    assert ds.column_types == {"num": "numeric", "mixed": "categorical", "blank": "numeric", "target": "categorical"}
    assert ds.target == "target"


def test_quoted_and_unquoted_files_read_alike():
    """A file with a quote goes through csv.reader, one without through str.split: same table either way."""
    scores = ["NA", "7", "-3.5", ""]
    rows = [[f" {i * 1.25:.2f}", scores[i % 4], f"k{i % 3} ", ["good", "bad"][i % 2]] for i in range(30)]
    plain = make_csv(["amount", "score", "kind", "label"], rows).replace(b"\n", b"\r\n")
    plain = plain.replace(b"\r\n 5", b"\r\n\r\n 5")  # blank lines are skipped
    quoted = plain.replace(b"k1", b'"k1"')
    a, b = parse_csv(plain), parse_csv(quoted)
    assert a.rows == b.rows and a.column_types == b.column_types
    assert a.column_types == {"amount": "numeric", "score": "numeric", "kind": "categorical", "label": "categorical"}
    assert a.rows[0] == {"amount": "0.00", "score": None, "kind": "k0", "label": "good"}
    assert a.rows[1]["score"] == "7" and a.row_count == 30
    schema = infer_schema(a, "label")
    assert dataset_matrix(schema, a).tobytes() == dataset_matrix(schema, b).tobytes()


def test_type_inference_spans_the_whole_file(monkeypatch):
    """Files are read a chunk at a time; a late non-number still makes the column categorical, text intact."""
    monkeypatch.setattr(datasets_module, "CHUNK_CHARS", 64)
    monkeypatch.setattr(datasets_module, "CHUNK_ROWS", 5)
    rows = [[f"{i}.50", i, "good" if i % 2 else "bad"] for i in range(40)]
    rows[37][0] = "unknown"
    rows[38][1] = "inf"
    plain = make_csv(["code", "count", "y"], rows)
    for raw in (plain, plain.replace(b"bad", b'"bad"')):
        ds = parse_csv(raw)
        assert ds.column_types == {"code": "categorical", "count": "categorical", "y": "categorical"}
        assert [r["code"] for r in ds.rows[:2]] == ["0.50", "1.50"] and ds.rows[37]["code"] == "unknown"
        assert ds.rows[38]["count"] == "inf"
        categories = infer_schema(ds, "y").features[0].categories
        assert categories == sorted(categories) and len(categories) == 40


def test_irregular_unquoted_file_errors_like_the_csv_module(monkeypatch):
    """A csv error anywhere in the file wins over a ragged row before it, as when csv.reader read it all first."""
    monkeypatch.setattr(datasets_module, "CHUNK_CHARS", 32)
    rows = [[i, "a", "good" if i % 2 else "bad"] for i in range(30)]
    ragged = make_csv(["amount", "kind", "y"], rows).replace(b"\n7,a,good\n", b"\n\n7,a\n")
    with pytest.raises(DatasetError, match="^row 8 has 2 fields, expected 3$"):
        parse_csv(ragged)
    default_limit = csv.field_size_limit(13)
    try:
        with pytest.raises(DatasetError, match="^file is not valid CSV: field larger than field limit"):
            parse_csv(ragged + b"1,abcdefghijklmn,good\n")
    finally:
        csv.field_size_limit(default_limit)


def test_target_must_exist_and_may_be_undetected():
    raw = make_csv(["amount", "kind", "result"], small_rows())
    assert parse_csv(raw).target is None
    assert parse_csv(raw, target="result").target == "result"
    with pytest.raises(DatasetError, match="target column 'nope' not found"):
        parse_csv(raw, target="nope")


# --- labels ------------------------------------------------------------------


@pytest.mark.parametrize(
    "good, bad",
    [("good", "bad"), ("1", "0"), ("TRUE", "false"), ("yes", "No"), ("1.0", "0.0")],
)
def test_label_vocabularies(good, bad):
    rows = [[i, good if i % 2 else bad] for i in range(20)]
    ds = parse_csv(make_csv(["amount", "y"], rows))
    assert labels_from(ds, "y").tolist() == [i % 2 for i in range(20)]


def test_label_errors():
    def dataset(labels):
        return parse_csv(make_csv(["amount", "y"], [[i, v] for i, v in enumerate(labels)]))

    with pytest.raises(DatasetError, match="target column 'z' not found"):
        labels_from(dataset(["good", "bad"] * 10), "z")
    with pytest.raises(DatasetError, match="target 'y' has only one class: good"):
        labels_from(dataset(["good"] * 20), "y")
    with pytest.raises(DatasetError, match="unknown label 'maybe' in row 4"):
        labels_from(dataset(["good", "bad", "good", "maybe"] + ["bad"] * 16), "y")
    with pytest.raises(DatasetError, match="missing in row 2"):
        labels_from(dataset(["good", "NA"] + ["bad"] * 18), "y")
    with pytest.raises(DatasetError, match="unknown label '2.50' in row 3"):
        labels_from(dataset(["1", "0", "2.50"] + ["0"] * 17), "y")
    with pytest.raises(DatasetError, match="missing in row 1"):
        labels_from(dataset(["", "0", "1"] + ["0"] * 17), "y")


def test_german_sample(german):
    assert len(german.rows) == 1000 and len(german.columns) == 21
    assert german.target == TARGET
    labels = labels_from(german, TARGET)
    assert labels.sum() == 700
    assert german.column_types["age_in_years"] == "numeric"
    assert german.column_types["purpose"] == "categorical"


# --- features ----------------------------------------------------------------


def test_schema_round_trip(german, model):
    schema = infer_schema(german, TARGET)
    assert TARGET not in schema.names and len(schema.names) == 20
    for s in (schema, model.schema):
        data = json.loads(json.dumps(s.to_dict()))
        assert FeatureSchema.from_dict(data) == s
    age = next(f for f in schema.features if f.name == "age_in_years")
    assert (age.min, age.max, age.missing_rate) == (19.0, 75.0, 0.0)
    purpose = next(f for f in schema.features if f.name == "purpose")
    assert purpose.categories == sorted(purpose.categories) and "car (new)" in purpose.categories
    assert math.isclose(sum(model.schema.gain_share.values()), 1.0, abs_tol=1e-4)


def test_build_matrix_encoding_and_diagnostics(german):
    schema = infer_schema(german, TARGET)
    names = schema.names
    purpose = names.index("purpose")
    age = names.index("age_in_years")
    amount = names.index("credit_amount")
    records = [
        {"purpose": "car (new)", "age_in_years": "30", "credit_amount": 1000},
        {"purpose": "spaceship", "age_in_years": 99, "credit_amount": "lots", "foo": 1, TARGET: "good"},
        {},
    ]
    fm = build_matrix(schema, records)
    assert fm.values.dtype == np.float32 and fm.values.shape == (3, 20)
    categories = schema.features[purpose].categories
    assert fm.values[0, purpose] == categories.index("car (new)")
    assert fm.values[0, age] == 30 and fm.values[0, amount] == 1000
    assert np.isnan(fm.values[1, purpose]) and np.isnan(fm.values[1, amount])
    assert fm.values[1, age] == 99
    d = fm.diagnostics[1]
    assert d.unseen == ["purpose"] and d.invalid == ["credit_amount"]
    assert d.out_of_range == ["age_in_years"] and d.unknown == ["foo"]
    assert "purpose" not in d.missing and len(d.missing) == 17
    assert fm.diagnostics[0].unknown == [] and fm.diagnostics[0].unseen == []
    assert np.isnan(fm.values[2]).all() and len(fm.diagnostics[2].missing) == 20


def test_training_matrix_is_what_scoring_builds(german):
    """Training reads the columns, scoring the records: a row must get the same model input either way."""
    schema = infer_schema(german, TARGET)
    from_rows = build_matrix(schema, [record_of(german, i) for i in range(1000)]).values
    assert dataset_matrix(schema, german).tobytes() == from_rows.tobytes()
    picked = np.array([999, 3, 3, 0])
    assert dataset_matrix(schema, german, picked).tobytes() == from_rows[picked].tobytes()

    # another file under the same schema: new categories, a numeric column holding text and vice versa
    rows = [[["car (new)", "spaceship", "NA"][i % 3], ["30", "x", "41.5"][i % 3], i % 4] for i in range(24)]
    other = parse_csv(make_csv(["purpose", "age_in_years", "job"], rows))
    assert other.column_types == {"purpose": "categorical", "age_in_years": "categorical", "job": "numeric"}
    expected = build_matrix(schema, other.rows).values
    assert dataset_matrix(schema, other).tobytes() == expected.tobytes()
    assert not np.isnan(expected[:, schema.names.index("purpose")]).all()


def test_dataset_from_rows_matches_the_parsed_one(german):
    rebuilt = Dataset(german.columns, [dict(r) for r in german.rows], german.column_types, german.target)
    assert rebuilt.row_count == 1000 and rebuilt.column_types == german.column_types
    assert infer_schema(rebuilt, TARGET) == infer_schema(german, TARGET)
    assert (labels_from(rebuilt, TARGET) == labels_from(german, TARGET)).all()
    schema = infer_schema(german, TARGET)
    assert dataset_matrix(schema, rebuilt).tobytes() == dataset_matrix(schema, german).tobytes()


def test_training_never_builds_per_row_dicts():
    rows = [[i % 17, f"k{i % 5}", "good" if i % 3 else "bad"] for i in range(200)]
    ds = parse_csv(make_csv(["amount", "kind", "y"], rows))
    train(ds, "y", params={"num_boost_round": 5})
    assert "rows" not in vars(ds)
    assert ds.rows[4] == {"amount": "4", "kind": "k4", "y": "good"}


# --- parameters --------------------------------------------------------------


def test_validate_params_normalises_aliases():
    out = validate_params({"learning_rate": 0.3, "n_estimators": 50, "reg_lambda": 2, "max_depth": 5})
    assert out == {"eta": 0.3, "num_boost_round": 50, "lambda": 2.0, "max_depth": 5}
    assert isinstance(out["lambda"], float)
    assert validate_params(None) == {}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"booster": "dart"}, "unknown parameter 'booster'; allowed parameters: .*max_depth"),
        ({"max_depth": True}, "'max_depth' must be an integer in \\[1, 16\\]"),
        ({"max_depth": 4.0}, "'max_depth' must be an integer"),
        ({"max_depth": 17}, "'max_depth' must be an integer in \\[1, 16\\], got 17"),
        ({"eta": 0}, "'eta' must be a number in \\(0, 1\\]"),
        ({"eta": "0.1"}, "'eta' must be a number"),
        ({"subsample": 1.5}, "'subsample'"),
        ({"scale_pos_weight": 0}, "'scale_pos_weight'"),
        ({"gamma": -1}, "'gamma'"),
        ({"max_bin": 1}, "'max_bin'"),
        ({"eta": 0.1, "learning_rate": 0.2}, "conflicts with 'eta'"),
        ({"gamma": float("nan")}, "'gamma'"),
    ],
)
def test_validate_params_errors(params, message):
    with pytest.raises(ValueError, match=message):
        validate_params(params)


def test_whitelist_covers_documented_keys():
    expected = {
        "max_depth", "eta", "learning_rate", "n_estimators", "num_boost_round", "min_child_weight", "subsample",
        "colsample_bytree", "gamma", "lambda", "reg_lambda", "alpha", "reg_alpha", "max_cat_to_onehot",
        "early_stopping_rounds", "scale_pos_weight", "max_bin",
    }  # fmt: skip
    assert set(ALLOWED_PARAMS) == expected


@pytest.mark.parametrize("test_size", [0, 0.6, -0.1, True, "0.2"])
def test_train_rejects_bad_test_size(german, test_size):
    with pytest.raises(ValueError, match="test_size"):
        train(german, TARGET, test_size=test_size)


# --- training ----------------------------------------------------------------


def test_stratified_split_is_disjoint_and_balanced():
    labels = np.array([1] * 700 + [0] * 300)
    tr, va, te = stratified_split(labels, 0.2, 42)
    assert len(set(tr) | set(va) | set(te)) == 1000 == len(tr) + len(va) + len(te)
    assert (len(te), labels[te].sum()) == (200, 140)
    assert (len(va), labels[va].sum()) == (160, 112)


def test_default_model_auc(model):
    assert model.metrics["auc"] >= 0.75
    assert model.rows == {"train": 640, "validation": 160, "test": 200}


def test_metrics_shape(model):
    m = model.metrics
    for key in ("accuracy", "precision", "mae", "rmse", "auc", "logloss"):
        assert type(m[key]) is float and 0 <= m[key] <= 1, key
    c = m["confusion"]
    assert c["tp"] + c["fp"] + c["tn"] + c["fn"] == 200
    assert m["accuracy"] == round((c["tp"] + c["tn"]) / 200, 6)
    assert m["precision"] == round(c["tp"] / (c["tp"] + c["fp"]), 6)
    gains = [f["gain"] for f in m["featureImportance"]]
    assert 0 < len(gains) <= 10 and gains == sorted(gains, reverse=True)
    assert all(type(g) is float for g in gains)
    assert {f["feature"] for f in m["featureImportance"]} <= set(model.schema.names)


def test_training_is_reproducible(german):
    params = {"num_boost_round": 40}
    a = train(german, TARGET, params=params, seed=7)
    b = train(german, TARGET, params=params, seed=7)
    c = train(german, TARGET, params=params, seed=8)
    assert a.booster_bytes == b.booster_bytes and a.metrics == b.metrics
    assert a.booster_bytes != c.booster_bytes


def test_progress_is_monotonic_and_reaches_100(german):
    seen = []
    train(german, TARGET, params={"num_boost_round": 300, "early_stopping_rounds": 500}, progress=seen.append)
    assert seen[-1] == 100 and seen.count(100) == 1
    assert seen == sorted(set(seen)) and seen[0] >= 1
    assert len(seen) <= 101


def test_auc_matches_pair_counting_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = rng.integers(0, 10, 200) / 10
    pos, neg = s[y == 1], s[y == 0]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert math.isclose(auc(y, s), pairs / (len(pos) * len(neg)))
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert auc(np.array([1, 1]), np.array([0.1, 0.2])) is None


# --- scoring -----------------------------------------------------------------


def test_score_scale():
    scale = ScoreScale()
    assert scale.score(50 / 51) == 600
    assert scale.score(100 / 101) == 620
    assert scale.score(25 / 26) == 580
    assert scale.score(1e-9) == 300
    assert scale.score(1.0) == 850
    assert math.isclose(scale.factor, 20 / math.log(2))
    assert ScoreScale(base_points=500, base_odds=1.0, pdo=50).score(0.5) == 500


def test_confidence_extremes(scorer, german):
    empty, full = scorer.score([{}, record_of(german)])
    assert empty.confidence == 0.0
    assert "all features missing: the score reflects the population average only" in empty.warnings
    assert full.confidence == 1.0 and full.warnings == []
    assert 0.6 < empty.probability < 0.8


def test_out_of_range_costs_half_the_weight(scorer, german):
    record = record_of(german) | {"age_in_years": 120}
    (result,) = scorer.score([record])
    share = scorer.schema.gain_share["age_in_years"]
    assert share > 0
    assert result.confidence == round(1 - share / 2, 4)
    assert "out of training range: age_in_years" in result.warnings


def test_unknown_and_unseen_warnings(scorer, german):
    record = record_of(german) | {"purpose": "spaceship", "foo": 1, "bar": 2}
    (result,) = scorer.score([record])
    assert "unknown features ignored: foo, bar" in result.warnings
    assert "unseen category for purpose: 'spaceship'" in result.warnings
    assert result.confidence == round(1 - scorer.schema.gain_share["purpose"], 4)


def test_explanation(scorer, german):
    record = record_of(german, 1)
    (result,) = scorer.score([record])
    assert len(result.explanation) == 5
    magnitudes = [abs(e["contribution"]) for e in result.explanation]
    assert magnitudes == sorted(magnitudes, reverse=True) and magnitudes[0] > 0
    for entry in result.explanation:
        assert entry["value"] == record[entry["feature"]]
    out = result.to_dict()
    assert set(out) == {"score", "scoreProbability", "scoreConfidence", "scoreVersion", "explanation", "warnings"}
    assert out["scoreVersion"] == "v1" and type(out["score"]) is int
    assert json.loads(json.dumps(out)) == out


def test_probability_direction(scorer, german):
    labels = labels_from(german, TARGET)
    results = scorer.score([record_of(german, i) for i in range(1000)])
    proba = np.array([r.probability for r in results])
    assert proba[labels == 1].mean() > proba[labels == 0].mean() + 0.1
    scores = np.array([r.score for r in results])
    assert np.all(np.diff(scores[np.argsort(proba)]) >= 0)


def test_batch_matches_single_scoring_in_order(scorer, german):
    records = [record_of(german, i) for i in (5, 0, 9)] + [{"purpose": "radio/television"}]
    batch = scorer.score(records)
    assert len(batch) == 4
    assert batch == [scorer.score([r])[0] for r in records]
    assert scorer.score([]) == []
