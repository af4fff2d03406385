"""flask-smorest, as every blueprint uses it: bodies in JSON, XML or forms, one error shape, 64-bit ids."""
from functools import wraps

import flask_smorest
import marshmallow as ma
from werkzeug.routing import IntegerConverter

from maiascore.http import errors
from maiascore.http.bodies import BodyParser, require_body


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest blueprint whose body arguments accept JSON, XML and form encodings."""

    ARGUMENTS_PARSER = BodyParser()

    def arguments(self, schema, *, location="json", required=True, **kwargs):
        """As flask-smorest's, and a body the document calls required is required: without one the
        request is refused before the schema (whose fields may all be optional) reads it."""
        decorator = super().arguments(schema, location=location, required=required, **kwargs)
        if location != "json" or not required:
            return decorator

        def wrap(func):
            parsed = decorator(func)

            @wraps(parsed)
            def wrapper(*args, **kw):
                require_body()
                return parsed(*args, **kw)

            return wrapper

        return wrap


class ErrorSchema(ma.Schema):
    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(metadata={"description": "Validation detail, field by field"})


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        errors.register(self._app)


class Int64Converter(IntegerConverter):
    """``<int:...>`` path ids bounded to 64 bits: anything larger is simply not found."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def install_converters(app, api):
    app.url_map.converters["int"] = Int64Converter
    api.register_converter(Int64Converter, lambda _: {"type": "integer", "minimum": 0, "maximum": 2**63 - 1})
