"""Scoring runs as the API reads and writes them."""
import marshmallow as ma

from maiascore.http.strapi import COUNT_DESCRIPTION, COUNT_DOC, entry_fields  # noqa: F401  the routes' count
from maiascore.scoring_runs.states import FILE, FORMATS, KINDS, PARQUET, STATUSES

MAX_TOP_CONTRIBUTIONS = 20


class OutputSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    kind = ma.fields.String(load_default=FILE, validate=ma.validate.OneOf(KINDS),
                            metadata={"description": "reports: one score report per row (uuid = the row key), "
                                                     "seen by dashboards; file: a result file to download"})
    format = ma.fields.String(load_default=PARQUET, validate=ma.validate.OneOf(FORMATS),
                              metadata={"description": "The result file's format (kind file)"})
    rowKey = ma.fields.String(validate=ma.validate.Length(min=1, max=1000), load_default=None,
                              metadata={"description": "The column that names a row: the report uuid (required "
                                                       "for kind reports); in a file, the first column (else the "
                                                       "row number only)"})
    topContributions = ma.fields.Integer(validate=ma.validate.Range(0, MAX_TOP_CONTRIBUTIONS), load_default=None,
                                         metadata={"description": "Largest SHAP contributions kept per row: columns "
                                                                  "topNFeature/topNContribution in a file (default "
                                                                  "0), the report's explanation (default 5)"})


class ScoringRunCreateSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    dataset = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100),
                               metadata={"description": "Id of a data set (POST /datasets: uploaded or by URI)"})
    modelVersion = ma.fields.String(load_default=None, metadata={"description": "Default: the active model"})
    output = ma.fields.Nested(OutputSchema, load_default=lambda: OutputSchema().load({}))


class ResultSchema(ma.Schema):
    filename = ma.fields.String()
    format = ma.fields.String()
    size = ma.fields.Integer()
    rows = ma.fields.Integer()


class ScoringRunSchema(ma.Schema):
    class Meta:
        complete_answer = True  # every field in every answer (maiascore.http.openapi)

    id = ma.fields.String()
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    progress = ma.fields.Integer(metadata={"description": "0-100, rows done over rows total"})
    rowsDone = ma.fields.Integer()
    rowsTotal = ma.fields.Integer(allow_none=True, metadata={"description": "Estimated for a large CSV registered "
                                                                           "by URI until the run ends"})
    dataset = ma.fields.String()
    datasetName = ma.fields.String(allow_none=True)
    modelVersion = ma.fields.String()
    output = ma.fields.Nested(OutputSchema)
    engine = ma.fields.String(allow_none=True, metadata={"enum": ["local", "dask"]})
    dask = ma.fields.Raw(allow_none=True, metadata={"description": "workers and partitions, on Dask"})
    result = ma.fields.Nested(ResultSchema, allow_none=True,
                              metadata={"description": "The file (kind file), once succeeded: GET .../result"})
    error = ma.fields.String(allow_none=True)
    attempts = ma.fields.Integer()
    startedAt = ma.fields.DateTime(allow_none=True)
    finishedAt = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    published_at = ma.fields.DateTime(allow_none=True)
    created_by = ma.fields.Integer(allow_none=True)
    updated_by = ma.fields.Integer(allow_none=True)

    @ma.pre_dump
    def shown(self, doc, **kwargs):
        """A stored scoring run as the API shows it: its result file's name and size, not where it lies."""
        result = doc.get("result")
        return {
            **entry_fields(doc),
            "status": doc["status"],
            "progress": doc.get("progress", 0),
            "rowsDone": doc.get("rowsDone", 0),
            "rowsTotal": doc.get("rowsTotal"),
            "dataset": doc["dataset"],
            "datasetName": doc.get("datasetName"),
            "modelVersion": doc["model"]["version"],
            "output": doc["output"],
            "engine": doc.get("engine"),
            "dask": doc.get("dask"),
            "result": {k: result[k] for k in ("filename", "format", "size", "rows")} if result else None,
            "error": doc.get("error"),
            "attempts": doc.get("attempts", 0),
            "startedAt": doc.get("startedAt"),
            "finishedAt": doc.get("finishedAt"),
        }
