"""Liveness and readiness probes for load balancers and process managers."""
import marshmallow as ma
from flask.views import MethodView

from maiascore.connections import get_db, get_redis
from maiascore.http.api import Blueprint
from maiascore.http.errors import abort

blp = Blueprint("health", __name__, description="Liveness and readiness")


class HealthSchema(ma.Schema):
    status = ma.fields.String()
    mongo = ma.fields.String()
    redis = ma.fields.String()


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """The process is alive."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema="Error", description="MongoDB or Redis is not answering")
    def get(self):
        """MongoDB and Redis both answer."""
        checks = {}
        for name, probe in (("mongo", lambda: get_db().command("ping")), ("redis", lambda: get_redis().ping())):
            try:
                probe()
                checks[name] = "ok"
            except Exception:
                checks[name] = "down"
        if "down" in checks.values():
            abort(503, "Not ready: " + ", ".join(k for k, v in checks.items() if v == "down") + " not answering")
        return {"status": "ok", **checks}
