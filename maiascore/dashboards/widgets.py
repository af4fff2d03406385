"""What a widget may say: types, data sources, metrics, measures, groupings and filters.

``clean_widgets`` turns a client's widget list into the stored form or answers 400 with
a message naming the widget and the allowed values. Data sources map the v6 vocabulary
onto this product's collections; ``planner.py`` turns the stored form into pipelines.
"""
import re
import secrets
import string
from dataclasses import dataclass, field

from config import settings
from maiascore.errors import Invalid
from maiascore.reports import states as report_states
from maiascore.trainings import states as training_states

TABLE = "Table"
MULTI_METRIC_TABLE = "Multi Metric Table"
NUMBER = "Number"
PIE_CHART = "Pie Chart"
LINE = "Time Series: Line"
STACKED_AREA = "Time Series: Stacked Area"
BOX_AND_WHISKERS = "Box and Whiskers"
BAR_STACKED = "Bar Chart: Stacked"
BAR_GROUPED = "Bar Chart: Grouped"
MAP = "Map"
WIDGET_TYPES = (TABLE, MULTI_METRIC_TABLE, NUMBER, PIE_CHART, LINE, STACKED_AREA, BOX_AND_WHISKERS,
                BAR_STACKED, BAR_GROUPED)
# Binned over time; every other type summarises the whole time range.
BINNED_TYPES = frozenset({LINE, STACKED_AREA, BAR_STACKED, BAR_GROUPED})

VISUAL_MODES = ("Full", "Half screen")
MEAN, MEDIAN, MINIMUM, MAXIMUM, PERCENTILE, STD_DEV = (
    "Mean", "Median", "Minimum", "Maximum", "nth Percentile", "Standard Deviation")
MEASURES = (MEAN, MEDIAN, MINIMUM, MAXIMUM, PERCENTILE, STD_DEV)
SORT_BY = ("Value", "Alphabetical")
SORT_DIRECTIONS = ("Ascending", "Descending")
MAX_FIXED_TIMESPAN = 93 * 86400
MAX_LIMIT = 1000
ACTIVE_VERSION = "active"

ID_PATTERN = re.compile(r"^[A-Za-z0-9]{5}$")
_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class Metric:
    """``field`` holds a numeric value; a duration is ``end - start`` in seconds; a count has neither."""

    name: str
    field: str = None
    start: str = None
    end: str = None
    counts_status: str = None

    @property
    def is_count(self):
        return self.field is None and self.end is None


@dataclass(frozen=True)
class DataSource:
    name: str
    collection: str
    time_field: str
    metrics: dict
    groups: dict                      # v6 property name -> document field
    allowed_values: dict = field(default_factory=dict)  # property -> closed list of values
    integer_groups: frozenset = frozenset()
    label_field: str = None           # what names one document in a Table's rows


SCORE_REPORTS = DataSource(
    name="Score Reports",
    collection="score_reports",
    time_field="created_at",
    metrics={m.name: m for m in (
        Metric("Score", field="score"),
        Metric("Score Probability", field="scoreProbability"),
        Metric("Score Confidence", field="scoreConfidence"),
        Metric("Report Count"),
        Metric("Failed Reports", counts_status=report_states.FAILED),
        Metric("Processing Time", start="created_at", end="processed_at"),
    )},
    groups={"Score Version": "scoreVersion", "Type": "type", "Status": "status",
            "User": "users_permissions_user", "Outcome": "outcome"},
    allowed_values={"Status": report_states.STATUSES, "Outcome": ("good", "bad")},
    integer_groups=frozenset({"User"}),
    label_field="referenceId",
)

TRAININGS = DataSource(
    name="Trainings",
    collection="trainings",
    time_field="finishedAt",
    metrics={m.name: m for m in (
        Metric("Accuracy", field="accuracy"),
        Metric("Precision", field="precission"),
        Metric("AUC", field="meta.metrics.auc"),
        Metric("MAE", field="mae"),
        Metric("RMSE", field="rmse"),
        Metric("Training Duration", start="startedAt", end="finishedAt"),
    )},
    groups={"Score Version": "version", "Status": "status", "User": "created_by"},
    allowed_values={"Status": training_states.STATUSES},
    integer_groups=frozenset({"User"}),
    label_field="version",
)

# Model health (maiascore.monitoring): figures of the per-version counters, not of documents; each metric
# names the monitoring metric it draws. Without a Score Version filter or grouping: the active version.
MODEL_HEALTH = DataSource(
    name="Model Health",
    collection="monitoring_counts",
    time_field="hour",
    metrics={m.name: m for m in (
        Metric("Score PSI", field="score-psi"),
        Metric("Feature PSI", field="feature-psi"),
        Metric("AUC", field="auc"),
        Metric("KS", field="ks"),
        Metric("Bad Rate", field="bad-rate"),
        Metric("Calibration Error", field="calibration-error"),
        Metric("Challenger Agreement", field="challenger-agreement"),
        Metric("Scored Reports", field="count"),
    )},
    groups={"Score Version": "version", "Feature": "feature"},
)

DATA_SOURCES = {source.name: source for source in (SCORE_REPORTS, TRAININGS, MODEL_HEALTH)}


def _names(values):
    return ", ".join(f"'{v}'" for v in values)


class WidgetProblem(Exception):
    pass


def _fail(message):
    raise WidgetProblem(message)


def _one_of(value, allowed, what):
    if value not in allowed:
        _fail(f"{what} {value!r} is not supported; use one of {_names(allowed)}")
    return value


def _positive_int(value, what, maximum):
    if isinstance(value, bool):
        _fail(f"{what} must be a whole number")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        _fail(f"{what} must be a whole number, not {value!r}")
    if number <= 0 or number > maximum:
        _fail(f"{what} must be between 1 and {maximum}")
    return number


def _clean_measure(raw, metric):
    if metric.is_count:
        if raw:
            _fail(f"metric '{metric.name}' is a count and takes no measure")
        return None
    raw = raw or {"type": MEAN}
    kind = _one_of(raw.get("type") or MEAN, MEASURES, "measure type")
    measure = {"type": kind}
    percentile = raw.get("percentileValue")
    if kind == PERCENTILE:
        if percentile is None:
            _fail("measure 'nth Percentile' needs percentileValue, a number above 0 and at most 100")
        try:
            percentile = float(percentile)
        except (TypeError, ValueError):
            _fail(f"percentileValue must be a number, not {percentile!r}")
        if not 0 < percentile <= 100:
            _fail("percentileValue must be above 0 and at most 100")
        measure["percentileValue"] = percentile
    elif percentile is not None:
        _fail(f"percentileValue applies to the measure 'nth Percentile' only, not {kind!r}")
    return measure


def _clean_source_and_metric(raw):
    source_name = raw.get("dataSource")
    if not source_name:
        _fail(f"dataSource is required; use one of {_names(DATA_SOURCES)}")
    source = DATA_SOURCES.get(source_name) or _fail(
        f"dataSource {source_name!r} is not supported; use one of {_names(DATA_SOURCES)}")
    metric_name = raw.get("metric")
    if not metric_name:
        _fail(f"metric is required; data source '{source.name}' offers {_names(source.metrics)}")
    metric = source.metrics.get(metric_name) or _fail(
        f"metric {metric_name!r} is not offered by data source '{source.name}'; use one of "
        f"{_names(source.metrics)}")
    return source, metric


def _clean_group_by(value, sources):
    if value in (None, ""):
        return None
    for source in sources:
        if value not in source.groups:
            _fail(f"groupBy {value!r} is not available for data source '{source.name}'; use one of "
                  f"{_names(source.groups)}")
    return value


def _filter_value(source, prop, value):
    if prop == "Score Version":
        if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
            _fail(f"filter 'Score Version' takes version strings or '{ACTIVE_VERSION}', not {value!r}")
        return str(value).strip()
    if prop in source.integer_groups:
        if isinstance(value, bool):
            _fail(f"filter {prop!r} takes user ids, not {value!r}")
        try:
            return int(str(value).strip())
        except ValueError:
            _fail(f"filter {prop!r} takes user ids, not {value!r}")
    if not isinstance(value, str):
        _fail(f"filter {prop!r} takes text values, not {value!r}")
    allowed = source.allowed_values.get(prop)
    if allowed and value not in allowed:
        _fail(f"filter {prop!r} value {value!r} is not valid for '{source.name}'; use one of {_names(allowed)}")
    return value


def _clean_filters(raw, sources):
    if not raw:
        return None
    if not isinstance(raw, dict):
        _fail("filters must map a property to a list of values")
    cleaned = {}
    for prop, values in raw.items():
        values = values if isinstance(values, list) else [values]
        if not values:
            _fail(f"filter {prop!r} needs at least one value")
        for source in sources:
            if prop not in source.groups:
                _fail(f"filter {prop!r} is not available for data source '{source.name}'; use one of "
                      f"{_names(source.groups)}")
            cleaned[prop] = [_filter_value(source, prop, v) for v in values]
    return cleaned


def _clean_metric_spec(raw):
    """dataSource, metricGroup, metric, measure, filters, fixedTimespan: a widget's, a card's or a column's."""
    source, metric = _clean_source_and_metric(raw)
    spec = {"dataSource": source.name}
    if raw.get("metricGroup"):
        spec["metricGroup"] = raw["metricGroup"]
    spec["metric"] = metric.name
    measure = _clean_measure(raw.get("measure"), metric)
    if measure:
        spec["measure"] = measure
    return source, metric, spec


class _Ids:
    """Widget, card and column ids share one namespace per report, as v6 ids do."""

    def __init__(self):
        self.taken = set()

    def claim(self, value, what):
        if value in (None, ""):
            return None
        value = str(value)
        if not ID_PATTERN.match(value):
            _fail(f"{what} {value!r} must be exactly 5 letters or digits")
        if value in self.taken:
            _fail(f"{what} {value!r} is used twice in this report; ids must be unique within a report")
        self.taken.add(value)
        return value

    def generate(self):
        while True:
            candidate = "".join(secrets.choice(_ID_ALPHABET) for _ in range(5))
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate


def _widget_label(index, raw):
    name = raw.get("id") or raw.get("title") or raw.get("type") or "untitled"
    return f"Widget {index + 1} ({name})"


def too_many_widgets(raw_widgets):
    """Why a dashboard of ``raw_widgets`` is refused for their number (``DASHBOARD_MAX_WIDGETS``), or None."""
    limit = settings().DASHBOARD_MAX_WIDGETS
    if len(raw_widgets) > limit:
        return f"{len(raw_widgets)} widgets; a dashboard holds at most {limit} (DASHBOARD_MAX_WIDGETS)"
    return None


def too_many_parts(parts, key):
    """Why a widget's ``key`` (numberCards, multiMetricColumns) is refused for its length, or None."""
    limit = settings().DASHBOARD_MAX_WIDGET_PARTS
    if len(parts) > limit:
        what = "cards" if key == "numberCards" else "columns"
        return f"{len(parts)} {what}; a widget holds at most {limit} (DASHBOARD_MAX_WIDGET_PARTS)"
    return None


def clean_widgets(raw_widgets):
    """The stored form of a report's widgets; 400 naming the first widget that is wrong."""
    problem = too_many_widgets(raw_widgets)
    if problem:
        raise Invalid(f"widgets: {problem}")
    ids = _Ids()
    # Client ids first, so a generated id can never take one a later widget asks for.
    for index, raw in enumerate(raw_widgets):
        try:
            ids.claim(raw.get("id"), "id")
            for key, what in (("numberCards", "card id"), ("multiMetricColumns", "column id")):
                problem = isinstance(raw.get(key), list) and too_many_parts(raw[key], key)
                if problem:
                    _fail(f"{key}: {problem}")
                for part in raw.get(key) or ():
                    ids.claim(part.get("id"), what)
        except WidgetProblem as problem:
            raise Invalid(f"{_widget_label(index, raw)}: {problem}")
    cleaned = []
    for index, raw in enumerate(raw_widgets):
        try:
            cleaned.append(_clean_widget(raw, ids))
        except WidgetProblem as problem:
            raise Invalid(f"{_widget_label(index, raw)}: {problem}")
    return cleaned


def _clean_widget(raw, ids):
    kind = raw.get("type")
    if not kind:
        _fail(f"type is required; use one of {_names(WIDGET_TYPES)}")
    if kind == MAP:
        _fail(f"type 'Map' is not available: score reports carry no geography; use one of {_names(WIDGET_TYPES)}")
    _one_of(kind, WIDGET_TYPES, "type")
    widget = {"id": str(raw["id"]) if raw.get("id") else ids.generate(), "type": kind,
              "title": raw.get("title") or kind,
              "visualMode": _one_of(raw.get("visualMode") or "Full", VISUAL_MODES, "visualMode")}

    if kind == NUMBER:
        sources = _clean_number(raw, widget, ids)
    elif kind == MULTI_METRIC_TABLE:
        sources = _clean_multi_metric(raw, widget, ids)
    else:
        for key in ("numberCards", "multiMetricColumns"):
            if raw.get(key):
                _fail(f"{key} belong to {'Number' if key == 'numberCards' else 'Multi Metric Table'} widgets, "
                      f"not to {kind!r}")
        source, metric, spec = _clean_metric_spec(raw)
        if kind == BOX_AND_WHISKERS and metric.is_count:
            value_metrics = [m.name for m in source.metrics.values() if not m.is_count]
            _fail(f"a Box and Whiskers widget shows the spread of a value; use one of {_names(value_metrics)}")
        widget.update(spec)
        sources = [source]

    filters = _clean_filters(raw.get("filters"), sources)
    if filters:
        widget["filters"] = filters
    if raw.get("fixedTimespan") not in (None, ""):
        widget["fixedTimespan"] = str(_positive_int(raw["fixedTimespan"], "fixedTimespan (seconds)",
                                                    MAX_FIXED_TIMESPAN))
    if kind == NUMBER:
        if raw.get("groupBy"):
            _fail("a Number widget shows one value per card and takes no groupBy")
    else:
        group_by = _clean_group_by(raw.get("groupBy"), sources)
        if group_by:
            widget["groupBy"] = group_by
    if raw.get("sortBy"):
        widget["sortBy"] = _one_of(raw["sortBy"], SORT_BY, "sortBy")
    if raw.get("sortDirection"):
        widget["sortDirection"] = _one_of(raw["sortDirection"], SORT_DIRECTIONS, "sortDirection")
    if raw.get("limit") not in (None, ""):
        widget["limit"] = _positive_int(raw["limit"], "limit", MAX_LIMIT)
    widget["isEmbedded"] = bool(raw.get("isEmbedded", False))
    return widget


def _clean_number(raw, widget, ids):
    cards = raw.get("numberCards") or []
    if raw.get("multiMetricColumns"):
        _fail("multiMetricColumns belong to Multi Metric Table widgets, not to 'Number'")
    if not cards:
        # A Number widget configured like any other widget is a single card.
        source, metric, spec = _clean_metric_spec(raw)
        widget.update(spec)
        return [source]
    if raw.get("dataSource") or raw.get("metric"):
        _fail("a Number widget takes its metrics either from numberCards or from its own dataSource/metric, "
              "not both")
    cleaned, sources = [], []
    for position, card in enumerate(cards):
        try:
            source, metric, spec = _clean_metric_spec(card)
            entry = {"id": str(card["id"]) if card.get("id") else ids.generate()}
            if card.get("description"):
                entry["description"] = str(card["description"])
            entry.update(spec)
            card_filters = _clean_filters(card.get("filters"), [source])
            if card_filters:
                entry["filters"] = card_filters
            if card.get("fixedTimespan") not in (None, ""):
                entry["fixedTimespan"] = str(_positive_int(card["fixedTimespan"], "fixedTimespan (seconds)",
                                                           MAX_FIXED_TIMESPAN))
        except WidgetProblem as problem:
            _fail(f"numberCards[{position}]: {problem}")
        cleaned.append(entry)
        sources.append(source)
    widget["numberCards"] = cleaned
    return list({s.name: s for s in sources}.values())


def _clean_multi_metric(raw, widget, ids):
    columns = raw.get("multiMetricColumns") or []
    if not columns:
        _fail("a Multi Metric Table needs multiMetricColumns: a list of {dataSource, metric, measure}")
    if raw.get("dataSource") or raw.get("metric") or raw.get("measure"):
        _fail("a Multi Metric Table takes its metrics from multiMetricColumns, not from dataSource/metric/measure")
    if raw.get("numberCards"):
        _fail("numberCards belong to Number widgets, not to 'Multi Metric Table'")
    cleaned, sources = [], []
    for position, column in enumerate(columns):
        try:
            source, metric, spec = _clean_metric_spec(column)
        except WidgetProblem as problem:
            _fail(f"multiMetricColumns[{position}]: {problem}")
        cleaned.append({"id": str(column["id"]) if column.get("id") else ids.generate(), **spec})
        sources.append(source)
    widget["multiMetricColumns"] = cleaned
    return list({s.name: s for s in sources}.values())
