"""What a training's ``meta`` may say, checked before anything is queued.

``meta`` carries the training's parameters: ``dataset``, ``target``, ``positiveLabel``
(the target's class whose probability scores report), ``params`` (whitelisted XGBoost
hyper-parameters), ``testSize``, ``seed``, ``activate`` and a free-text ``note``. The server adds ``metrics`` after a success; a client echoing a
previous answer back may send it, and it is dropped. Pure: the dataset ``meta`` names is
resolved by :func:`maiascore.datasets.sources.resolve`.
"""
import re

from maiascore.modeling import validate_params

ACTIVATE_MODES = ("always", "if-better", "never")
DEFAULTS = {"testSize": 0.2, "seed": 42, "activate": "if-better"}
INPUT_KEYS = ("dataset", "target", "positiveLabel", "params", "testSize", "seed", "activate", "note", "engine")
COMPUTED_KEYS = ("metrics",)
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
    errors = {}
    clean = {}
    for key, value in meta.items():
        if key in COMPUTED_KEYS:
            continue
        if key not in INPUT_KEYS:
            errors[key] = [f"Unknown key; meta accepts {', '.join(INPUT_KEYS)}."]
            continue
        clean[key] = value
    for key in ("dataset", "target", "positiveLabel", "note"):
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


def with_defaults(meta):
    """The checked meta with the defaults filled in (``dataset`` and ``target`` come from the dataset)."""
    filled = {k: v for k, v in meta.items() if v is not None}
    for key, value in DEFAULTS.items():
        filled.setdefault(key, value)
    filled.setdefault("params", {})
    return filled


def in_order(meta):
    """Only the input keys, in one order, so stored metas read alike."""
    return {key: meta[key] for key in INPUT_KEYS if key in meta}


def parameters_only(meta):
    """What a repeating training hands its next occurrence: the inputs, not the last run's metrics."""
    return {k: v for k, v in meta.items() if k not in COMPUTED_KEYS}
