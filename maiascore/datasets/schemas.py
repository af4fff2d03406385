"""Data sets as the API reads and writes them."""
import marshmallow as ma

from maiascore.http.strapi import COUNT_DESCRIPTION, COUNT_DOC, entry_fields  # noqa: F401  the routes' count


class ColumnSchema(ma.Schema):
    name = ma.fields.String()
    type = ma.fields.String(metadata={"enum": ["numeric", "categorical"]})


class DatasetSchema(ma.Schema):
    class Meta:
        complete_answer = True  # every field in every answer (maiascore.http.openapi)

    id = ma.fields.String()
    name = ma.fields.String()
    rows = ma.fields.Integer()
    columns = ma.fields.List(ma.fields.Nested(ColumnSchema))
    target = ma.fields.String(allow_none=True, metadata={"description": "Label column (good/bad, 1/0, ...), "
                                                                        "given or recognised by name"})
    positiveLabel = ma.fields.String(allow_none=True, metadata={
        "description": "The target's class whose probability is scoreProbability"})
    negativeLabel = ma.fields.String(allow_none=True, metadata={"description": "The target's other class"})
    size = ma.fields.Integer(metadata={"description": "Bytes"})
    uri = ma.fields.String(allow_none=True, metadata={"description": "Where a data set registered by reference lies"})
    format = ma.fields.String(metadata={"enum": ["csv", "parquet"]})
    rowsEstimated = ma.fields.Boolean(metadata={"description": "rows is estimated from a sample (large CSV)"})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    published_at = ma.fields.DateTime(allow_none=True)
    created_by = ma.fields.Integer(allow_none=True)
    updated_by = ma.fields.Integer(allow_none=True)

    @ma.pre_dump
    def shown(self, doc, **kwargs):
        """A stored data set without its storage details (GridFS id, checksum)."""
        return {
            **entry_fields(doc),
            "name": doc["name"],
            "rows": doc["rows"],
            "columns": doc["columns"],
            "target": doc.get("target"),
            "positiveLabel": doc.get("positiveLabel"),
            "negativeLabel": doc.get("negativeLabel"),
            "size": doc.get("size"),
            "uri": doc.get("uri"),
            "format": doc.get("format", "csv"),
            "rowsEstimated": bool(doc.get("rowsEstimated")),
        }


# A data set's name and label column, alike whether it is uploaded or registered by URI.
DATASET_NAME = ma.fields.String(validate=ma.validate.Length(min=1, max=200),
                                metadata={"description": "Defaults to the file name"})
DATASET_TARGET = ma.fields.String(validate=ma.validate.Length(min=1, max=1000),
                                  metadata={"description": "The label column; recognised by name when absent"})


class DatasetReferenceSchema(ma.Schema):
    """A data set registered by URI (``POST /datasets`` as JSON); see maiascore.datasets.uris."""

    uri = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000),
                           metadata={"description": "file:///… or s3://… under the server's DATASET_ROOTS: a CSV "
                                                    "(.csv, .tsv, .txt, optionally .gz) or Parquet file or directory"})
    name = DATASET_NAME
    target = DATASET_TARGET
    positiveLabel = ma.fields.String(validate=ma.validate.Length(min=1, max=1000),
                                     metadata={"description": "The target's class scores are about; needed "
                                                              "unless the labels are a known pair (good/bad, ...)"})
