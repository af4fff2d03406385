"""How the OpenAPI document describes what every operation shares, so generated clients can use it.

- ``aid``: every authenticated operation reads the account group from the query string (see
  ``maiascore.auth.access``); the parameter is added to each operation that declares security.
- Nullable nested objects are ``{allOf: [$ref], nullable: true}``: apispec's default for OpenAPI
  3.0 (``anyOf`` of a bare nullable object and the reference) makes generators drop the type.
"""
from apispec import BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter

AID_PARAMETER = {
    "in": "query", "name": "aid", "required": False,
    "schema": {"type": "integer", "format": "int64", "minimum": 0},
    "description": "The account group to act in (one the caller belongs to); default: the user's default group",
}


class Converter(OpenAPIConverter):
    def schema2jsonschema(self, schema):
        """A schema whose ``Meta.complete_answer`` is set dumps every field in every answer (``null`` when
        empty): the document lists them all as required, so generated clients type them as present."""
        jsonschema = super().schema2jsonschema(schema)
        if getattr(getattr(schema, "Meta", None), "complete_answer", False):
            jsonschema["required"] = sorted(name for name, prop in jsonschema.get("properties", {}).items()
                                            if not prop.get("writeOnly"))
        return jsonschema

    def field2nullable(self, field, ret):
        if field.allow_none and "$ref" in ret and self.openapi_version.major == 3 \
                and self.openapi_version.minor < 1:
            return {"allOf": [{"$ref": ret.pop("$ref")}], "nullable": True}
        return super().field2nullable(field, ret)


class ContractMarshmallowPlugin(MarshmallowPlugin):
    Converter = Converter


class AccountGroupPlugin(BasePlugin):
    """Declares ``aid`` on every operation that requires credentials (and on those that read it
    without requiring them, marked by ``x-reads-aid``)."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            if not isinstance(operation, dict):
                continue
            reads_aid = operation.pop("x-reads-aid", False)
            if not (operation.get("security") or reads_aid):
                continue
            parameters = operation.setdefault("parameters", [])
            if not any(isinstance(p, dict) and p.get("name") == "aid" for p in parameters):
                parameters.append(dict(AID_PARAMETER))


def spec_kwargs():
    return {"marshmallow_plugin": ContractMarshmallowPlugin(), "extra_plugins": [AccountGroupPlugin()]}


FORM_NOTE = ("The same fields are accepted as application/x-www-form-urlencoded (a JSON text under that "
             "type too) and as XML; the document lists JSON and XML, whose schemas do not collide.")


def body_doc(schema, *, required=True, xml_schema=None, description=FORM_NOTE):
    """A request body documented as JSON first and XML beside it: one schema per content type that
    generators can tell apart (form encodings are described, not listed, as they share JSON's schema)."""
    return {"required": required, "description": description,
            "content": {"application/json": {"schema": schema},
                        "application/xml": {"schema": xml_schema or schema}}}
