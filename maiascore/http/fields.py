"""marshmallow fields for the shapes the seeds' clients send."""
import json

import marshmallow as ma


class JSONObject(ma.fields.Field):
    """An object sent either as an object or as a JSON text (the seeds type ``meta`` as a string).

    Deserialises to a dict; ``context_key`` callers can keep whether it came as text.
    """

    default_error_messages = {"invalid": "Must be an object or a JSON text encoding an object."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text == "":
                return {}
            try:
                parsed = json.loads(text)
            except ValueError:
                raise self.make_error("invalid")
            if isinstance(parsed, dict):
                return parsed
        raise self.make_error("invalid")

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class Ignored(ma.fields.Raw):
    """A field the contract lets clients send but the server computes: accepted, then dropped."""

    def __init__(self, **kwargs):
        kwargs.setdefault("load_only", True)
        kwargs.setdefault("metadata", {"description": "Computed by the server; any value sent is ignored"})
        super().__init__(**kwargs)
