"""Headers every answer carries, and the Content-Security-Policy of the ``/docs`` page.

``nosniff``: a browser takes each answer for the type it declares, so an error that echoes input
or a stored text is never run as a script or a stylesheet. ``/docs`` (Swagger UI) runs only the
scripts it ships: its two bundles from this origin and the one inline script flask-smorest renders,
allowed by its hash; it cannot be framed.
"""
import base64
import hashlib
import re

from flask import current_app, request

INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)
DOCS_POLICY = ("default-src 'none'; script-src 'self' {scripts}; style-src 'self'; img-src 'self' data:; "
               "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def script_hashes(html):
    """The CSP source of each inline script of ``html`` (``'sha256-...'``)."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
            for body in INLINE_SCRIPT.findall(html)]


def security_headers(response):
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.path == current_app.config["OPENAPI_SWAGGER_UI_PATH"] and response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = DOCS_POLICY.format(
            scripts=" ".join(script_hashes(response.get_data())))
        response.headers["X-Frame-Options"] = "DENY"
    return response
