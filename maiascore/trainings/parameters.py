"""What a training's ``meta`` may say, checked before anything is queued.

``meta`` carries the training's parameters: ``dataset``, ``target``, ``params``
(whitelisted XGBoost hyper-parameters), ``testSize``, ``seed``, ``activate`` and a
free-text ``note``. The server adds ``metrics`` after a success; a client echoing a
previous answer back may send it, and it is dropped.
"""
import re

from maiascore.connections import get_db

REPORTS = "reports"
REPORTS_TARGET = "outcome"
ACTIVATE_MODES = ("always", "if-better", "never")
DEFAULTS = {"testSize": 0.2, "seed": 42, "activate": "if-better"}
INPUT_KEYS = ("dataset", "target", "params", "testSize", "seed", "activate", "note")
COMPUTED_KEYS = ("metrics",)
MIN_LABELLED_REPORTS = 20
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
INTEGER = re.compile(r"^[+-]?\d+$")


def number_from_text(value):
    """XML and form bodies carry numbers as text; JSON ones are left as they are."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return int(text) if INTEGER.match(text) else float(text)
    except ValueError:
        return value


def check_meta(meta):
    """Returns ``(clean_meta, errors)``; pure, so the schema can run it on every encoding."""
    from maiascore.modeling import validate_params  # imports xgboost: only when a training is posted

    errors = {}
    clean = {}
    for key, value in meta.items():
        if key in COMPUTED_KEYS:
            continue
        if key not in INPUT_KEYS:
            errors[key] = [f"Unknown key; meta accepts {', '.join(INPUT_KEYS)}."]
            continue
        clean[key] = value
    for key in ("dataset", "target", "note"):
        value = clean.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 1000):
            errors[key] = ["Must be a non-empty text of at most 1000 characters."]
    if clean.get("params") is not None:
        params = clean["params"]
        if isinstance(params, dict):
            params = {k: number_from_text(v) for k, v in params.items()}
        try:
            clean["params"] = validate_params(params)
        except ValueError as exc:
            errors["params"] = [str(exc)]
    if clean.get("testSize") is not None:
        size = number_from_text(clean["testSize"])
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not 0 < size <= 0.5:
            errors["testSize"] = ["Must be a number greater than 0 and at most 0.5 (the held-out share)."]
        clean["testSize"] = size
    if clean.get("seed") is not None:
        seed = number_from_text(clean["seed"])
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 32:
            errors["seed"] = ["Must be an integer from 0 to 4294967295."]
        clean["seed"] = seed
    if clean.get("activate") is not None and clean["activate"] not in ACTIVATE_MODES:
        errors["activate"] = [f"Must be one of {', '.join(ACTIVATE_MODES)}."]
    return clean, errors


def default_dataset(aid):
    """The group's own labelled reports once there are enough of them, else the bundled sample."""
    labelled = get_db().score_reports.count_documents(
        {"aid": aid, "outcome": {"$in": ["good", "bad"]}}, limit=MIN_LABELLED_REPORTS)
    return REPORTS if labelled >= MIN_LABELLED_REPORTS else "german-credit"


def resolve(aid, meta):
    """Fills in the defaults and checks the dataset exists; returns ``(meta, errors)``."""
    from maiascore.modeling.datasets import SAMPLES
    from maiascore.trainings.datasets import find_dataset

    resolved = {k: v for k, v in meta.items() if v is not None}
    for key, value in DEFAULTS.items():
        resolved.setdefault(key, value)
    resolved.setdefault("params", {})
    dataset = resolved.get("dataset") or default_dataset(aid)
    resolved["dataset"] = dataset
    target = resolved.get("target")
    errors = {}
    if dataset == REPORTS:
        if target not in (None, REPORTS_TARGET):
            errors["target"] = [f"The reports dataset's target is always '{REPORTS_TARGET}'."]
        resolved["target"] = REPORTS_TARGET
    elif dataset in SAMPLES:
        resolved["target"] = target or SAMPLES[dataset][1]
    elif OBJECT_ID.match(dataset):
        doc = find_dataset(aid, dataset)
        if doc is None:
            errors["dataset"] = [f"No dataset {dataset} in this account group."]
        elif target is not None and target not in [c["name"] for c in doc["columns"]]:
            errors["target"] = [f"The dataset has no column {target!r}."]
        else:
            resolved["target"] = target or doc["target"]
    else:
        errors["dataset"] = [f"Must be '{REPORTS}', one of the bundled samples ({', '.join(SAMPLES)}) "
                             "or the id of an uploaded dataset."]
    return {key: resolved[key] for key in INPUT_KEYS if key in resolved}, errors
