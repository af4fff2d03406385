"""Liveness and readiness probes for load balancers and process managers."""
from flask.views import MethodView

from maiascore.health.schemas import HealthSchema
from maiascore.health.service import probe
from maiascore.http.api import Blueprint
from maiascore.http.errors import abort

blp = Blueprint("health", __name__, description="Liveness and readiness")


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
        checks = probe()
        down = [name for name, state in checks.items() if state == "down"]
        if down:
            # No Retry-After: a probe polls on its own schedule.
            abort(503, "Not ready: " + ", ".join(down) + " not answering")
        return {"status": "ok", **checks}
