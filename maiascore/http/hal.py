"""The ThousandEyes v7 answer conventions shared by every /v7 blueprint: HAL documents, problem+json errors."""
from flask import jsonify

HAL = "application/hal+json"
PROBLEM = "application/problem+json"


def hal(body, status=200):
    """Answers built by a v7 ``mapping`` go out as they are: a schema dump would drop the kept extra fields."""
    response = jsonify(body)
    response.status_code = status
    return response


def problems(blp, schema, *codes):
    """The v7 error documents (``schema``) a view may answer with, for OpenAPI."""
    def decorate(func):
        for code in codes:
            func = blp.alt_response(code, schema=schema, content_type=PROBLEM, description="Problem document")(func)
        return func
    return decorate
