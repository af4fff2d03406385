"""/datasets: CSV uploads a training can name in ``meta.dataset``."""
import marshmallow as ma
from flask import g, request
from flask.views import MethodView
from flask_smorest.fields import Upload

from config import settings
from maiascore.accounts.permissions import MANAGE_TRAININGS, VIEW_TRAININGS
from maiascore.auth.access import requires
from maiascore.datasets import schemas
from maiascore.datasets.service import (
    LIST_FIELDS,
    count_datasets,
    delete_dataset,
    find_dataset,
    list_datasets,
    register,
    store_upload,
)
from maiascore.errors import Invalid, NotFound, TooLarge, Unprocessable
from maiascore.http.api import Blueprint
from maiascore.http.errors import abort
from maiascore.http.strapi import list_parameters, object_id, parse_list_query

blp = Blueprint("datasets", __name__, description="Upload CSV training data")


class DatasetUploadSchema(ma.Schema):
    """The multipart form of an upload; here, not in schemas.py, because ``Upload`` is flask-smorest's."""

    file = Upload(metadata={"description": "The CSV (UTF-8; comma, semicolon or tab separated; header row)"})
    name = schemas.DATASET_NAME
    target = schemas.DATASET_TARGET
    positiveLabel = ma.fields.String(validate=ma.validate.Length(min=1, max=1000),
                                     metadata={"description": "The target's class whose probability is "
                                                              "scoreProbability; needed unless the two labels "
                                                              "are a known pair (good/bad, 1/0, true/false, "
                                                              "yes/no)"})


class DatasetQuerySchema(ma.Schema):
    """The same fields in the query string, for a raw ``text/csv`` body."""

    name = DatasetUploadSchema._declared_fields["name"]
    target = DatasetUploadSchema._declared_fields["target"]
    positiveLabel = DatasetUploadSchema._declared_fields["positiveLabel"]


def _dataset_or_404(dataset_id):
    object_id(dataset_id, "Dataset")
    doc = find_dataset(g.aid, dataset_id)
    if doc is None:
        raise NotFound("Dataset not found")
    return doc


def _reference(body):
    try:
        return schemas.DatasetReferenceSchema().load(body)
    except ma.ValidationError as exc:
        raise Unprocessable("Request validation failed", errors=exc.messages) from None


SEARCH_FIELDS = ("name",)
LIST_PARAMETERS = list_parameters(LIST_FIELDS, search=SEARCH_FIELDS)


def _list_query():
    return parse_list_query(request.args, LIST_FIELDS, {"aid": g.aid}, search=SEARCH_FIELDS)


@blp.route("/datasets")
class Datasets(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.doc(parameters=LIST_PARAMETERS)
    @blp.response(200, schemas.DatasetSchema(many=True))
    def get(self):
        """List uploaded datasets (``_limit``, ``_start``, ``_sort``, field filters)."""
        return list_datasets(_list_query())

    @requires(MANAGE_TRAININGS)
    @blp.arguments(DatasetQuerySchema, location="query")
    @blp.arguments(DatasetUploadSchema, location="form", content_type="multipart/form-data")
    @blp.doc(requestBody={"required": True, "content": {
        "multipart/form-data": {"schema": DatasetUploadSchema},
        "text/csv": {"schema": {"type": "string", "description": "The CSV itself; name, target and "
                                                                "positiveLabel in the query string"}},
        "application/json": {"schema": schemas.DatasetReferenceSchema}}})
    @blp.response(201, schemas.DatasetSchema)
    @blp.alt_response(400, schema="Error", description="Not a usable CSV; the message says why")
    @blp.alt_response(403, schema="Error", description="The uri is outside this group's DATASET_ROOTS")
    @blp.alt_response(413, schema="Error", description="Larger than DATASET_MAX_BYTES")
    def post(self, query, form):
        """Upload a CSV, as multipart/form-data (field ``file``) or as a ``text/csv`` body
        (``?name=&target=&positiveLabel=``): header row, at least 20 rows, a target column with two
        labels (named in ``target`` or recognised by name). Column types are inferred.

        Or register a file by reference (application/json ``{uri, name, target, positiveLabel}``): a
        ``file://`` or ``s3://`` CSV (optionally .gz) or Parquet under the server's DATASET_ROOTS; a
        sample is checked like an upload and the schema shown; trainings read it where it lies (on
        Dask when configured)."""
        body = request.get_json(silent=True) if request.mimetype == "application/json" else None
        if isinstance(body, dict) and "uri" in body:  # by reference (uris.py)
            return register(g.aid, g.user["_id"], **_reference(body))
        limit = settings().DATASET_MAX_BYTES
        if request.mimetype == "text/csv":
            raw = request.stream.read(limit + 1)
            filename = None
        elif request.mimetype == "multipart/form-data":
            upload = request.files.get("file")
            if upload is None:
                raise Invalid("No file: send the CSV in the multipart field 'file'")
            raw = upload.read(limit + 1)
            filename = upload.filename
        else:
            abort(415, "Upload the CSV as multipart/form-data with the file in the field 'file', or as a "
                       "text/csv body, or send {\"uri\": ...} as JSON to register a file by reference")
        if len(raw) > limit:
            raise TooLarge(f"The dataset is larger than the {limit} bytes allowed (DATASET_MAX_BYTES)")
        fields = {**query, **form}
        name = fields.get("name") or filename or "dataset.csv"
        return store_upload(g.aid, g.user["_id"], name[:200], raw, fields.get("target"),
                            fields.get("positiveLabel"))


@blp.route("/datasets/count")
class DatasetCount(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.response(200, description=schemas.COUNT_DESCRIPTION)
    @blp.doc(**schemas.COUNT_DOC)
    @blp.doc(parameters=[p for p in LIST_PARAMETERS if p["name"] not in ("_limit", "_start", "_sort")])
    def get(self):
        """Number of datasets matching the same filters as the list."""
        return count_datasets(_list_query())


@blp.route("/datasets/<dataset_id>")
class DatasetEntry(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.response(200, schemas.DatasetSchema)
    def get(self, dataset_id):
        """One dataset: rows, inferred column types, target."""
        return _dataset_or_404(dataset_id)

    @requires(MANAGE_TRAININGS)
    @blp.response(200, schemas.DatasetSchema)
    @blp.alt_response(409, schema="Error", description="A training that has not finished uses it")
    def delete(self, dataset_id):
        """Delete a dataset and its file; models trained on it stay."""
        doc = _dataset_or_404(dataset_id)
        delete_dataset(g.aid, doc)
        return doc
