"""The HTTP layer every blueprint shares: bodies, formats, errors, access, request logs."""
import flask_smorest
import marshmallow as ma

from maiascore.http.bodies import BodyParser


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest blueprint whose body arguments accept JSON, XML and form encodings."""

    ARGUMENTS_PARSER = BodyParser()


class ErrorSchema(ma.Schema):
    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(metadata={"description": "Validation detail, field by field"})


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        from maiascore.http import errors

        errors.register(self._app)
