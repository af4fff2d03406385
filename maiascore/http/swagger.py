"""Swagger UI's assets served by the API itself, from the pinned ``swagger-ui-bundle`` package.

``/docs`` then works with no network (an air-gapped install, a laptop on a train) and
always shows the same UI version; ``OPENAPI_SWAGGER_UI_URL`` points at ``STATIC_URL``.
"""
from flask import Blueprint
from swagger_ui_bundle import swagger_ui_path

STATIC_URL = "/docs/static/"

blp = Blueprint("swagger_ui_assets", __name__, static_folder=str(swagger_ui_path),
                static_url_path=STATIC_URL.rstrip("/"))
