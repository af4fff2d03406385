"""What the benchmarks send and train on: german-credit references and synthetic datasets."""
import io

import numpy as np

SYNTHETIC_NUMERIC = 14
SYNTHETIC_CATEGORICAL = 6


def reference_features():
    """The 1,000 german-credit applicants as a client would post them (numbers as JSON numbers)."""
    from maiascore.modeling import load_sample

    dataset = load_sample("german-credit")
    records = []
    for row in dataset.rows:
        record = {}
        for name in dataset.columns:
            if name == dataset.target:
                continue
            value = row[name]
            if dataset.column_types[name] == "numeric" and value is not None:
                number = float(value)
                value = int(number) if number.is_integer() else number
            record[name] = value
        records.append(record)
    return records


def install_model(aid, rounds=200):
    """Trains the german-credit model and registers it as ``aid``'s active model, as a training would."""
    from bson import ObjectId

    from maiascore.modeling import load_sample, train
    from maiascore.trainings import registry

    trained = train(load_sample("german-credit"), "creditability", params={"num_boost_round": rounds})
    training_id = str(ObjectId())
    registry.store_model(aid, training_id, registry.new_version(aid), trained.booster_bytes,
                         trained.schema.to_dict(), trained.metrics)
    return registry.activate(aid, training_id)


def synthetic_table(rows, seed=7):
    """(columns, numeric matrix, categorical codes, labels) of a credit-like synthetic dataset.

    14 numeric and 6 categorical features (4 to 9 levels); P(good) is a logistic function
    of a few of them plus noise, so trees have something to learn.
    """
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(rows, SYNTHETIC_NUMERIC)).astype(np.float32)
    levels = [4 + j for j in range(SYNTHETIC_CATEGORICAL)]
    codes = np.stack([rng.integers(0, k, size=rows) for k in levels], axis=1)
    logit = 0.8 * numeric[:, 0] - 0.6 * numeric[:, 1] + 0.4 * numeric[:, 2] * numeric[:, 3]
    logit += 0.5 * (codes[:, 0] == 1) - 0.7 * (codes[:, 1] == 2) + rng.normal(scale=0.8, size=rows) + 0.8
    labels = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    columns = [f"num_{j}" for j in range(SYNTHETIC_NUMERIC)] + [f"cat_{j}" for j in range(SYNTHETIC_CATEGORICAL)]
    return columns, numeric, codes, labels


def synthetic_csv(rows, seed=7):
    """The synthetic table as CSV bytes with a ``target`` column of good/bad."""
    columns, numeric, codes, labels = synthetic_table(rows, seed)
    out = io.StringIO()
    out.write(",".join(columns + ["target"]) + "\n")
    cat_names = np.array([f"c{i}" for i in range(16)])
    num_text = np.char.mod("%.4f", numeric)
    cat_text = cat_names[codes]
    label_text = np.where(labels == 1, "good", "bad")
    table = np.concatenate([num_text, cat_text, label_text[:, None]], axis=1)
    for start in range(0, rows, 50_000):
        out.write("\n".join(",".join(r) for r in table[start:start + 50_000].tolist()) + "\n")
    return out.getvalue().encode()
