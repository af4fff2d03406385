"""Resource bounds of a training, checked when it is posted so that no tenant can queue a training
the training workers cannot afford: boosting rounds x tree depth x rows, columns, and the
distinct feature names of the labelled reports. Each refusal names its setting.
"""
from config import settings
from maiascore.datasets.sources import RowLimit, Shape
from maiascore.errors import Invalid
from maiascore.modeling import DEFAULT_PARAMS, DatasetError


def work(meta, rows):
    """The work a training asks for: boosting rounds x max_depth x rows (defaults where not given)."""
    params = meta.get("params") or {}
    rounds = params.get("num_boost_round", DEFAULT_PARAMS["num_boost_round"])
    depth = params.get("max_depth", DEFAULT_PARAMS["max_depth"])
    return rounds, depth, rounds * depth * rows


def check(meta, shape):
    """Raises ``Invalid`` naming the first bound ``meta`` on data of ``shape`` breaks; None: unknown data."""
    if shape is None:
        return
    cfg = settings()
    if shape.feature_names is not None and shape.feature_names > cfg.TRAINING_MAX_REPORT_FEATURES:
        raise Invalid(f"The labelled score reports carry more than {cfg.TRAINING_MAX_REPORT_FEATURES} distinct "
                      "feature names, the most a training on 'reports' may use (TRAINING_MAX_REPORT_FEATURES)")
    if shape.columns > cfg.TRAINING_MAX_COLUMNS:
        raise Invalid(f"The dataset has {shape.columns} columns; a training may use at most "
                      f"{cfg.TRAINING_MAX_COLUMNS} (TRAINING_MAX_COLUMNS)")
    rounds, depth, total = work(meta, shape.rows)
    if total > cfg.TRAINING_WORK_BUDGET:
        raise Invalid(f"num_boost_round x max_depth x rows = {rounds} x {depth} x {shape.rows} = {total} exceeds "
                      f"the training budget of {cfg.TRAINING_WORK_BUDGET} (TRAINING_WORK_BUDGET): lower "
                      "num_boost_round or max_depth, or train on fewer rows")


def rows_allowed(meta):
    """The most rows ``meta``'s boosting may read within TRAINING_WORK_BUDGET."""
    rounds, depth, _ = work(meta, 1)
    return settings().TRAINING_WORK_BUDGET // max(1, rounds * depth)


def row_limit(meta):
    """The rows a source may load for ``meta``, and the reason it gives past them."""
    rows = rows_allowed(meta)
    return RowLimit(rows, over_budget(meta, rows))


def over_budget(meta, rows):
    rounds, depth, _ = work(meta, 1)
    return (f"the data set has more than {rows} rows, the most num_boost_round x max_depth = {rounds} x {depth} "
            f"may train on within the training budget of {settings().TRAINING_WORK_BUDGET} "
            "(TRAINING_WORK_BUDGET): lower num_boost_round or max_depth, or train on fewer rows")


def check_read(meta, rows, columns):
    """The bounds again, on the rows and columns actually read, before boosting starts."""
    try:
        check(meta, Shape(rows, columns))
    except Invalid as exc:
        raise DatasetError(exc.message) from None
