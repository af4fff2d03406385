"""Shapes of v6 reports, widgets, widget data and snapshots, as sent and as answered.

One schema serves both directions so that a report fetched with GET can be edited and
sent back to ``/update`` as is: fields the server computes (``reportId``, ``apiLinks``,
``modifiedDate``...) are accepted on input and ignored. Types are checked here; which
values and combinations are allowed is ``widgets.py``'s business.
"""
import marshmallow as ma

from maiascore.dashboards.snapshots import MAX_PAGE
from maiascore.dashboards.timerange import v6_datetime
from maiascore.http.fields import QueryInteger

READ_ONLY = {"readOnly": True, "description": "Computed by the server; ignored on input"}


class IdString(ma.fields.String):
    """An id that clients send as text or as a number (``"3"`` or ``3``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


def _as_list(data, *keys):
    """XML bodies carry a one-element list as a bare element."""
    if isinstance(data, dict):
        data = dict(data)
        for key in keys:
            if isinstance(data.get(key), dict):
                data[key] = [data[key]]
    return data


class ApiLinkSchema(ma.Schema):
    rel = ma.fields.String()
    href = ma.fields.String()


class MeasureSchema(ma.Schema):
    type = ma.fields.String(metadata={"description": "Mean, Median, Minimum, Maximum, nth Percentile, "
                                                     "Standard Deviation"})
    percentileValue = ma.fields.Float(allow_none=True, metadata={"description": "For nth Percentile: 0 < p <= 100"})


FILTERS_DOC = {"description": "Property (Score Version, Type, Status, User, Outcome) to the list of values kept; "
                              "Score Version also takes 'active'"}


# Widget fields v6 and v7 (v7/schemas.py) define alike: one definition, one documentation.
WIDGET_TYPE = ma.fields.String(
    required=True, metadata={"description": "Table, Multi Metric Table, Number, Pie Chart, Time Series: Line, "
                                            "Time Series: Stacked Area, Box and Whiskers, Bar Chart: Stacked, "
                                            "Bar Chart: Grouped"})
VISUAL_MODE = ma.fields.String(allow_none=True, metadata={"description": "Full or Half screen"})
SORT_BY = ma.fields.String(allow_none=True, metadata={"description": "Value or Alphabetical"})
SORT_DIRECTION = ma.fields.String(allow_none=True, metadata={"description": "Ascending or Descending"})


class NumberCardSchema(ma.Schema):
    id = IdString(allow_none=True, metadata={"description": "5 letters or digits, unique within the report"})
    description = ma.fields.String(allow_none=True)
    dataSource = ma.fields.String(allow_none=True)
    metricGroup = ma.fields.String(allow_none=True)
    metric = ma.fields.String(allow_none=True)
    measure = ma.fields.Nested(MeasureSchema, allow_none=True)
    filters = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(), allow_none=True, metadata=FILTERS_DOC)
    fixedTimespan = IdString(allow_none=True, metadata={"description": "Seconds, ending at the range's end"})


class MultiMetricColumnSchema(ma.Schema):
    id = IdString(allow_none=True, metadata={"description": "5 letters or digits, unique within the report"})
    dataSource = ma.fields.String(allow_none=True)
    metricGroup = ma.fields.String(allow_none=True)
    metric = ma.fields.String(allow_none=True)
    measure = ma.fields.Nested(MeasureSchema, allow_none=True)


class WidgetSchema(ma.Schema):
    id = IdString(allow_none=True, metadata={"description": "5 letters or digits, unique within the report; "
                                                            "generated when missing"})
    type = WIDGET_TYPE
    title = ma.fields.String(allow_none=True)
    visualMode = VISUAL_MODE
    dataSource = ma.fields.String(allow_none=True, metadata={"description": "Score Reports or Trainings"})
    metricGroup = ma.fields.String(allow_none=True)
    metric = ma.fields.String(allow_none=True)
    measure = ma.fields.Nested(MeasureSchema, allow_none=True)
    filters = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(), allow_none=True, metadata=FILTERS_DOC)
    fixedTimespan = IdString(allow_none=True, metadata={"description": "Seconds, ending at the range's end"})
    groupBy = ma.fields.String(allow_none=True, metadata={"description": "Score Version, Type, Status, User or "
                                                                         "Outcome"})
    sortBy = SORT_BY
    sortDirection = SORT_DIRECTION
    limit = ma.fields.Integer(allow_none=True)
    numberCards = ma.fields.List(ma.fields.Nested(NumberCardSchema), allow_none=True)
    multiMetricColumns = ma.fields.List(ma.fields.Nested(MultiMetricColumnSchema), allow_none=True)
    isEmbedded = ma.fields.Boolean(allow_none=True)
    apiLink = ma.fields.String(allow_none=True, metadata=READ_ONLY)

    @ma.pre_load
    def xml_lists(self, data, **kwargs):
        return _as_list(data, "numberCards", "multiMetricColumns")


class V6ReportSchema(ma.Schema):
    reportId = IdString(metadata=READ_ONLY)
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=255))
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=4000))
    isBuiltIn = ma.fields.Boolean(metadata=READ_ONLY)
    accountId = ma.fields.Integer(allow_none=True, metadata=READ_ONLY)
    createdBy = ma.fields.Integer(allow_none=True, metadata=READ_ONLY)
    modifiedBy = ma.fields.Integer(allow_none=True, metadata=READ_ONLY)
    modifiedDate = ma.fields.String(allow_none=True, metadata={**READ_ONLY, "description":
                                                               "YYYY-MM-DD HH:mm:ss, UTC; ignored on input"})
    isDefaultForUser = ma.fields.Boolean(allow_none=True, metadata={
        "description": "The caller's default report; setting it clears it on the caller's other reports"})
    isDefaultForAccount = ma.fields.Boolean(allow_none=True, metadata={
        "description": "The group's default report (Account Admins only); setting it clears it elsewhere"})
    widgets = ma.fields.List(ma.fields.Nested(WidgetSchema), allow_none=True)
    apiLinks = ma.fields.List(ma.fields.Nested(ApiLinkSchema), allow_none=True, metadata=READ_ONLY)

    @ma.pre_load
    def xml_lists(self, data, **kwargs):
        return _as_list(data, "widgets", "apiLinks")

    @ma.pre_dump
    def shown(self, doc, **kwargs):
        """A stored report as v6 shows it, after ``service.linked`` set its links and the caller's default."""
        return {
            "reportId": doc["reportId"],
            "title": doc["title"],
            "description": doc.get("description") or "",
            "isBuiltIn": bool(doc.get("isBuiltIn")),
            "accountId": doc["aid"],
            "createdBy": doc.get("createdBy"),
            "modifiedBy": doc.get("modifiedBy"),
            "modifiedDate": v6_datetime(doc.get("modified_at")),
            "isDefaultForUser": doc["isDefaultForUser"],
            "isDefaultForAccount": bool(doc.get("isDefaultForAccount")),
            "widgets": doc["widgets"],
            "apiLinks": doc["apiLinks"],
        }


class V6ReportSummarySchema(V6ReportSchema):
    """A report in the list: no widgets."""

    class Meta:
        exclude = ("widgets",)


class WidgetDataQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    window = ma.fields.String(metadata={"description": "[0-9]+[smhdw], e.g. 12h or 7d; default 7d"})
    from_ = ma.fields.String(data_key="from", attribute="from",
                             metadata={"description": "YYYY-mm-ddTHH:MM:SS (UTC); not with window"})
    to = ma.fields.String(metadata={"description": "YYYY-mm-ddTHH:MM:SS (UTC), default now; needs from"})


class DataGroupSchema(ma.Schema):
    groupProperty = ma.fields.String()
    groupId = ma.fields.String()


class GroupLabelSchema(ma.Schema):
    groupId = ma.fields.String()
    groupLabel = ma.fields.String()


class GroupLabelMapSchema(ma.Schema):
    groupProperty = ma.fields.String()
    groupLabels = ma.fields.List(ma.fields.Nested(GroupLabelSchema))


class DistributionSchema(ma.Schema):
    minimum = ma.fields.Raw()
    q1 = ma.fields.Raw()
    median = ma.fields.Raw()
    q3 = ma.fields.Raw()
    maximum = ma.fields.Raw()


class DataPointSchema(ma.Schema):
    cardId = ma.fields.String(metadata={"description": "Number widgets: the card"})
    columnId = ma.fields.String(metadata={"description": "Multi Metric Tables: the column"})
    binId = ma.fields.Integer(metadata={"description": "Start of the bin, UTC epoch seconds"})
    count = ma.fields.Integer(metadata={"description": "Documents aggregated into this datum"})
    value = ma.fields.Raw(metadata={"description": "The measure (or the count, for count metrics)"})
    groups = ma.fields.List(ma.fields.Nested(DataGroupSchema))
    distribution = ma.fields.Nested(DistributionSchema, metadata={"description": "Box and Whiskers only"})


class ComponentDataSchema(ma.Schema):
    binSize = ma.fields.Integer(metadata={"description": "Seconds each datum covers"})
    data = ma.fields.List(ma.fields.Nested(DataPointSchema))
    groupLabelMaps = ma.fields.List(ma.fields.Nested(GroupLabelMapSchema))


class WidgetDataSchema(ma.Schema):
    from_ = ma.fields.String(data_key="from", attribute="from")
    to = ma.fields.String()
    reportDataComponentData = ma.fields.Nested(ComponentDataSchema)


class SnapshotTimeSpanSchema(ma.Schema):
    startDate = ma.fields.String(metadata={"description": "YYYY-MM-DD HH:mm:ss, UTC"})
    duration = ma.fields.Raw(metadata={"description": "Seconds"})


class SnapshotCreateSchema(ma.Schema):
    reportId = IdString(required=True)
    snapshotName = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=255))
    displayName = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=255),
                                   metadata={"description": "Alias of snapshotName"})
    from_ = ma.fields.String(data_key="from", attribute="from", allow_none=True)
    to = ma.fields.String(allow_none=True)
    window = IdString(allow_none=True)
    timeSpan = ma.fields.Nested(SnapshotTimeSpanSchema, allow_none=True)


class SnapshotReportSchema(ma.Schema):
    reportId = ma.fields.String()
    title = ma.fields.String()
    isBuiltIn = ma.fields.Boolean()
    accountId = ma.fields.Integer()
    createdBy = ma.fields.Integer(allow_none=True)
    modifiedBy = ma.fields.Integer(allow_none=True)
    modifiedDate = ma.fields.String(allow_none=True)
    apiLinks = ma.fields.List(ma.fields.Nested(ApiLinkSchema))


class SnapshotSchema(ma.Schema):
    snapshotId = ma.fields.String()
    snapshotName = ma.fields.String()
    createdDate = ma.fields.String()
    createdBy = ma.fields.Integer()
    isScheduled = ma.fields.Boolean()
    isShared = ma.fields.Boolean()
    accountId = ma.fields.Integer()
    timeSpan = ma.fields.Nested(SnapshotTimeSpanSchema)
    report = ma.fields.Nested(SnapshotReportSchema)
    widgets = ma.fields.List(ma.fields.Nested(WidgetSchema))
    apiLinks = ma.fields.List(ma.fields.Nested(ApiLinkSchema))

    @ma.pre_dump
    def shown(self, doc, **kwargs):
        """A stored snapshot as v6 shows it, after ``snapshots.linked`` set its links (and its widgets)."""
        report = doc["report"]
        out = {
            "snapshotId": doc["snapshotId"],
            "snapshotName": doc["snapshotName"],
            "createdDate": v6_datetime(doc["created_at"]),
            "createdBy": doc.get("createdBy"),
            "isScheduled": bool(doc.get("isScheduled")),
            "isShared": bool(doc.get("isShared")),
            "accountId": doc["aid"],
            "timeSpan": {"startDate": v6_datetime(doc["start"]),
                         "duration": int((doc["end"] - doc["start"]).total_seconds())},
            "report": {
                "reportId": report["reportId"],
                "title": report["title"],
                "isBuiltIn": bool(report.get("isBuiltIn")),
                "accountId": doc["aid"],
                "createdBy": report.get("createdBy"),
                "modifiedBy": report.get("modifiedBy"),
                "modifiedDate": v6_datetime(report.get("modified_at")),
                "apiLinks": doc["reportLinks"],
            },
        }
        if "widgets" in doc:
            out["widgets"] = doc["widgets"]
        out["apiLinks"] = doc["apiLinks"]
        return out


class SnapshotPagesSchema(ma.Schema):
    current = ma.fields.Integer()
    next = ma.fields.String(metadata={"description": "URL of the next page; absent on the last"})


class SnapshotListSchema(ma.Schema):
    pages = ma.fields.Nested(SnapshotPagesSchema)
    reportSnapshots = ma.fields.List(ma.fields.Nested(SnapshotSchema))


class SnapshotDetailSchema(ma.Schema):
    reportSnapshots = ma.fields.List(ma.fields.Nested(SnapshotSchema))


class SnapshotListQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    reportId = IdString(metadata={"description": "Only the snapshots of this report"})
    page = QueryInteger(load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE))


class WidgetMetricOptionSchema(ma.Schema):
    name = ma.fields.String()
    isCount = ma.fields.Boolean(metadata={"description": "A count of documents: takes no measure, "
                                                         "never in a Box and Whiskers widget"})


class WidgetFilterOptionSchema(ma.Schema):
    property = ma.fields.String(metadata={"description": "A key of a widget's ``filters``"})
    kind = ma.fields.String(metadata={"enum": ["text", "userId", "version"],
                                      "description": "userId: integer user ids; version: model version strings "
                                                     "or activeVersion"})
    values = ma.fields.List(ma.fields.String(), allow_none=True,
                            metadata={"description": "The only values allowed; null when the values are open"})


class WidgetDataSourceOptionSchema(ma.Schema):
    name = ma.fields.String(metadata={"description": "A widget's ``dataSource``"})
    metrics = ma.fields.List(ma.fields.Nested(WidgetMetricOptionSchema))
    groupBy = ma.fields.List(ma.fields.String(), metadata={"description": "Values of a widget's ``groupBy``"})
    filters = ma.fields.List(ma.fields.Nested(WidgetFilterOptionSchema))


class WidgetTypeOptionSchema(ma.Schema):
    name = ma.fields.String(metadata={"description": "A widget's ``type``"})
    binned = ma.fields.Boolean(metadata={"description": "Data binned over time; otherwise one value per group "
                                                        "over the whole range"})
    metricsFrom = ma.fields.String(metadata={"enum": ["widget", "numberCards", "multiMetricColumns"],
                                             "description": "Where the metrics go: the widget's own dataSource/"
                                                            "metric/measure, or a list of cards or columns"})
    takesGroupBy = ma.fields.Boolean()
    valueMetricsOnly = ma.fields.Boolean(metadata={"description": "Only metrics with isCount false"})


class WidgetOptionsSchema(ma.Schema):
    widgetTypes = ma.fields.List(ma.fields.Nested(WidgetTypeOptionSchema))
    dataSources = ma.fields.List(ma.fields.Nested(WidgetDataSourceOptionSchema))
    measures = ma.fields.List(ma.fields.String(), metadata={"description": "Values of ``measure.type``"})
    percentileMeasure = ma.fields.String(metadata={"description": "The measure that needs percentileValue "
                                                                  "(0 < p <= 100)"})
    defaultMeasure = ma.fields.String(metadata={"description": "The measure of a value metric sent without one"})
    visualModes = ma.fields.List(ma.fields.String())
    sortBy = ma.fields.List(ma.fields.String())
    sortDirections = ma.fields.List(ma.fields.String())
    activeVersion = ma.fields.String(metadata={"description": "Score Version filter value meaning the active model"})
    maxLimit = ma.fields.Integer(metadata={"description": "Largest ``limit``"})
    maxFixedTimespan = ma.fields.Integer(metadata={"description": "Largest ``fixedTimespan``, seconds"})
