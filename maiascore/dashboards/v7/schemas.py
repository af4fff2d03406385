"""Shapes of ThousandEyes v7 dashboards, widget data, snapshots and filters, as the official SDK sends and reads them.

Bodies keep unknown fields (``unknown = INCLUDE``): the SDK adds ThousandEyes-only fields
with defaults and v7 keeps them for the round trip instead of refusing them. Answers
are built in ``mapping.py``; the schemas here type-check input and document both ways.
"""
import marshmallow as ma

from maiascore.dashboards.schemas import READ_ONLY, SORT_BY, SORT_DIRECTION, VISUAL_MODE, WIDGET_TYPE
EXTENSION_DOC = {"description": "MaiaScore's own {widgetId, dataSource, metric, metricGroup, groupBy, "
                                "fixedTimespanSeconds}: ThousandEyes closes dataSource, metric and groupBy to its "
                                "own values, so these travel here. dataSource: Score Reports or Trainings; "
                                "metric: e.g. Score, Report Count, Accuracy; groupBy: Score Version, Type, Status, "
                                "User or Outcome."}


class Loose(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE


class V7LinkSchema(Loose):
    href = ma.fields.String(required=True)


class V7SelfLinksSchema(Loose):
    self = ma.fields.Nested(V7LinkSchema)


class V7DashboardLinksSchema(Loose):
    self = ma.fields.Nested(V7LinkSchema)
    snapshots = ma.fields.Nested(V7LinkSchema)


class V7PaginationLinksSchema(Loose):
    self = ma.fields.Nested(V7LinkSchema)
    next = ma.fields.Nested(V7LinkSchema, metadata={"description": "Absent on the last page; carries the cursor"})


class V7ExtensionSchema(Loose):
    widgetId = ma.fields.String(allow_none=True, metadata={"description": "Keeps the widget's id across updates"})
    dataSource = ma.fields.String(allow_none=True)
    metric = ma.fields.String(allow_none=True)
    metricGroup = ma.fields.String(allow_none=True)
    groupBy = ma.fields.String(allow_none=True)
    fixedTimespanSeconds = ma.fields.Integer(allow_none=True)


class V7MeasureSchema(Loose):
    type = ma.fields.String(allow_none=True, metadata={"description": "MEAN, MEDIAN, MINIMUM, MAXIMUM, "
                                                                      "NTH_PERCENTILE, STDDEV"})
    percentileValue = ma.fields.Float(allow_none=True)


class V7DurationSchema(Loose):
    value = ma.fields.Integer(allow_none=True)
    unit = ma.fields.String(allow_none=True, metadata={"description": "Minutes, Hours or Days"})


FILTERS = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.Raw()), allow_none=True,
                         metadata={"description": "Property (Score Version, Type, Status, User, Outcome) to the "
                                                  "values kept"})


class V7CardSchema(Loose):
    id = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    measure = ma.fields.Nested(V7MeasureSchema, allow_none=True)
    fixedTimespan = ma.fields.Nested(V7DurationSchema, allow_none=True)
    filters = FILTERS
    maiascore = ma.fields.Nested(V7ExtensionSchema, allow_none=True, metadata=EXTENSION_DOC)


class V7ColumnSchema(Loose):
    id = ma.fields.String(allow_none=True)
    measure = ma.fields.Nested(V7MeasureSchema, allow_none=True)
    maiascore = ma.fields.Nested(V7ExtensionSchema, allow_none=True, metadata=EXTENSION_DOC)


class V7WidgetSchema(Loose):
    id = ma.fields.String(metadata=READ_ONLY)
    type = WIDGET_TYPE
    title = ma.fields.String(allow_none=True)
    visualMode = VISUAL_MODE
    isEmbedded = ma.fields.Boolean(allow_none=True)
    measure = ma.fields.Nested(V7MeasureSchema, allow_none=True)
    fixedTimespan = ma.fields.Nested(V7DurationSchema, allow_none=True)
    filters = FILTERS
    sortBy = SORT_BY
    sortDirection = SORT_DIRECTION
    limit = ma.fields.Integer(allow_none=True)
    numberCards = ma.fields.List(ma.fields.Nested(V7CardSchema), allow_none=True)
    multiMetricColumns = ma.fields.List(ma.fields.Nested(V7ColumnSchema), allow_none=True)
    maiascore = ma.fields.Nested(V7ExtensionSchema, allow_none=True, metadata=EXTENSION_DOC)
    apiLink = ma.fields.String(metadata={**READ_ONLY, "description": "The widget's data: GET it"})
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links", metadata=READ_ONLY)


class V7DashboardSchema(Loose):
    """``Dashboard``: the body of create and update, and their answer (people as strings)."""

    dashboardId = ma.fields.String(metadata=READ_ONLY)
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=255))
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=4000))
    isBuiltIn = ma.fields.Boolean(metadata=READ_ONLY)
    aid = ma.fields.String(metadata=READ_ONLY)
    createdBy = ma.fields.String(metadata=READ_ONLY)
    modifiedBy = ma.fields.String(metadata=READ_ONLY)
    modifiedDate = ma.fields.String(metadata={**READ_ONLY, "format": "date-time"})
    isPrivate = ma.fields.Boolean(allow_none=True, metadata={"description": "Always false: private dashboards are "
                                                                            "not supported"})
    isDefaultForUser = ma.fields.Boolean(metadata=READ_ONLY)
    isDefaultForAccount = ma.fields.Boolean(metadata=READ_ONLY)
    widgets = ma.fields.List(ma.fields.Nested(V7WidgetSchema), allow_none=True)
    defaultTimespan = ma.fields.Dict(allow_none=True, metadata={"description": "{duration} in seconds: the range "
                                                                               "of widget data asked without one"})
    _links = ma.fields.Nested(V7DashboardLinksSchema, data_key="_links", metadata=READ_ONLY)


class V7ApiDashboardSchema(V7DashboardSchema):
    """``ApiDashboard``: the answer of get and list (people as v6 integers, plus v7's strings)."""

    accountId = ma.fields.Integer()
    createdBy = ma.fields.Integer(allow_none=True)
    modifiedBy = ma.fields.Integer(allow_none=True)
    modifiedDate = ma.fields.String(metadata={"description": "YYYY-MM-DD HH:mm:ss, UTC"})
    dashboardCreatedBy = ma.fields.String()
    dashboardModifiedBy = ma.fields.String()
    dashboardModifiedDate = ma.fields.String(metadata={"format": "date-time"})


class V7CloneSchema(Loose):
    title = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=255))
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=1000))


class V7WidgetDataQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    window = ma.fields.String(metadata={"description": "[0-9]+[smhdw], e.g. 12h; not with startDate/endDate"})
    startDate = ma.fields.String(metadata={"description": "ISO-8601 date-time, e.g. 2024-05-01T00:00:00.000000+0000"})
    endDate = ma.fields.String(metadata={"description": "ISO-8601 date-time; default now"})
    max = ma.fields.Float(metadata={"description": "Accepted; applies to ThousandEyes list widgets only"})
    cursor = ma.fields.String(metadata={"description": "Accepted; no MaiaScore widget pages its data"})
    sort = ma.fields.String(metadata={"description": "Accepted; the widget's sortBy decides"})
    order = ma.fields.String(metadata={"description": "asc or desc; accepted, the widget's sortDirection decides"})


class V7GroupSchema(Loose):
    groupProperty = ma.fields.String()
    groupValue = ma.fields.String()


class V7PointSchema(Loose):
    timestamp = ma.fields.Integer(metadata={"description": "Start of the bin, UTC epoch seconds"})
    numberOfDataPoints = ma.fields.Integer()
    value = ma.fields.Float(allow_none=True)
    groups = ma.fields.List(ma.fields.Nested(V7GroupSchema))


class V7CardDataSchema(Loose):
    cardId = ma.fields.String()
    cardName = ma.fields.String()
    startDate = ma.fields.String(metadata={"format": "date-time"})
    endDate = ma.fields.String(metadata={"format": "date-time"})
    binSize = ma.fields.Integer()
    timestamp = ma.fields.Integer()
    numberOfDataPoints = ma.fields.Integer()
    value = ma.fields.Float(allow_none=True)
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links")


class V7ColumnDataSchema(Loose):
    columnId = ma.fields.String()
    binSize = ma.fields.Integer()
    points = ma.fields.List(ma.fields.Nested(V7PointSchema))
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links")


class V7WidgetDataBodySchema(Loose):
    points = ma.fields.List(ma.fields.Nested(V7PointSchema))
    cards = ma.fields.List(ma.fields.Nested(V7CardDataSchema))
    columns = ma.fields.List(ma.fields.Nested(V7ColumnDataSchema))


class V7LabelSchema(Loose):
    groupId = ma.fields.String()
    groupLabel = ma.fields.String()


class V7LabelMapSchema(Loose):
    groupProperty = ma.fields.String()
    groupLabels = ma.fields.List(ma.fields.Nested(V7LabelSchema))


class V7WidgetDataSchema(Loose):
    startDate = ma.fields.String(metadata={"format": "date-time"})
    endDate = ma.fields.String(metadata={"format": "date-time"})
    binSize = ma.fields.Integer()
    groupLabels = ma.fields.List(ma.fields.Nested(V7LabelMapSchema))
    data = ma.fields.Nested(V7WidgetDataBodySchema)
    _links = ma.fields.Nested(V7PaginationLinksSchema, data_key="_links")


class V7SnapshotCreateSchema(Loose):
    dashboardId = ma.fields.String(required=True)
    displayName = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=255))
    startDate = ma.fields.String(allow_none=True, metadata={"format": "date-time"})
    endDate = ma.fields.String(allow_none=True, metadata={"format": "date-time"})
    expirationDate = ma.fields.String(allow_none=True, metadata={"format": "date-time"})


class V7SnapshotCreatedSchema(Loose):
    snapshotId = ma.fields.String()
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links")


class V7SnapshotTimeSpanSchema(Loose):
    startDate = ma.fields.String()
    start = ma.fields.String(metadata={"format": "date-time"})
    duration = ma.fields.Integer(metadata={"description": "Seconds"})


class V7SnapshotSchema(Loose):
    snapshotId = ma.fields.String()
    snapshotName = ma.fields.String()
    aid = ma.fields.String()
    accountId = ma.fields.Integer()
    isShared = ma.fields.Boolean()
    isScheduled = ma.fields.Boolean()
    snapshotCreatedDate = ma.fields.String(metadata={"format": "date-time"})
    createdDate = ma.fields.String()
    createdBy = ma.fields.Integer(metadata={"description": "The user who took the snapshot"})
    timeSpan = ma.fields.Nested(V7SnapshotTimeSpanSchema)
    dashboard = ma.fields.Nested(V7ApiDashboardSchema)
    widgets = ma.fields.List(ma.fields.Nested(V7WidgetSchema))
    snapshotExpirationDate = ma.fields.String(metadata={"format": "date-time"})
    expirationDate = ma.fields.String(metadata={"description": "YYYY-MM-DD HH:mm:ss, UTC"})
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links")


class V7SnapshotPageSchema(Loose):
    dashboardSnapshots = ma.fields.List(ma.fields.Nested(V7SnapshotSchema))
    _links = ma.fields.Nested(V7PaginationLinksSchema, data_key="_links")


class V7SnapshotListQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    dashboardId = ma.fields.String(metadata={"description": "Only this dashboard's snapshots"})
    cursor = ma.fields.String(metadata={"description": "Opaque; take it from _links.next.href"})


class V7ExpirySchema(Loose):
    snapshotExpirationDate = ma.fields.String(allow_none=True, metadata={"format": "date-time"})
    expirationDate = ma.fields.String(allow_none=True, metadata={"format": "date-time"})


class V7DataSourceFilterSchema(Loose):
    filterId = ma.fields.String(required=True)
    values = ma.fields.List(ma.fields.String(), required=True)
    metricIds = ma.fields.List(ma.fields.String(), required=True)


class V7DataSourceFiltersSchema(Loose):
    dataSourceId = ma.fields.String(required=True)
    filters = ma.fields.List(ma.fields.Nested(V7DataSourceFilterSchema), required=True)


class V7FilterRequestSchema(Loose):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=255))
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=1000))
    context = ma.fields.List(ma.fields.Nested(V7DataSourceFiltersSchema), required=True)


class V7PersonSchema(Loose):
    uid = ma.fields.String()
    name = ma.fields.String()


class V7FilterSchema(V7FilterRequestSchema):
    id = ma.fields.String()
    aid = ma.fields.String()
    createdBy = ma.fields.Nested(V7PersonSchema)
    modifiedBy = ma.fields.Nested(V7PersonSchema)
    createdDate = ma.fields.String(metadata={"format": "date-time"})
    modifiedDate = ma.fields.String(metadata={"format": "date-time"})
    _links = ma.fields.Nested(V7SelfLinksSchema, data_key="_links")


class V7FiltersSchema(Loose):
    dashboardFilters = ma.fields.List(ma.fields.Nested(V7FilterSchema))


class V7FilterQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    searchPattern = ma.fields.String(metadata={"description": "Kept when it occurs in the name or description"})


class V7ProblemItemSchema(ma.Schema):
    code = ma.fields.String()
    field = ma.fields.String()
    message = ma.fields.String()


class V7ProblemSchema(ma.Schema):
    type = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    instance = ma.fields.String()
    errors = ma.fields.List(ma.fields.Nested(V7ProblemItemSchema), metadata={"description": "400 only"})


class V7UnauthorizedSchema(ma.Schema):
    error = ma.fields.String()
    error_description = ma.fields.String()
