"""Serves the console page and its static files, with headers that keep it from being framed or
running scripts it did not ship. The page itself talks to the public API like any client."""
from pathlib import Path

from flask import Blueprint, send_from_directory

STATIC = Path(__file__).resolve().parent / "static"

# Scripts and styles come only from this origin: no inline script, no eval, no CDN.
# Charts are drawn on canvas and their tooltips as canvas text, so nothing needs inline styles
# beyond the CSSOM properties ECharts sets (which CSP does not govern).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

blp = Blueprint("console", __name__)


def _harden(response, cache_seconds):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = f"no-cache, max-age={cache_seconds}" if cache_seconds else "no-store"
    return response


@blp.get("/app")
@blp.get("/app/")
def page():
    """One HTML page; the views live behind ``#/...`` so every address of the console is this one."""
    return _harden(send_from_directory(STATIC, "index.html", mimetype="text/html"), 0)


@blp.get("/app/static/<path:name>")
def static_file(name):
    """Scripts, styles and the vendored chart library (``send_from_directory`` refuses ``..``)."""
    return _harden(send_from_directory(STATIC, name, max_age=0), 0)
