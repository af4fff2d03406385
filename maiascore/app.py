"""The application factory: one Flask app, every blueprint registered explicitly."""
from flask import Flask
from flask_jwt_extended import JWTManager
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config

from maiascore import domains  # noqa: F401  connects the domain event handlers
from maiascore.alerts import routes as alerts_routes
from maiascore.auth import routes as auth_routes
from maiascore.auth.admin import routes as admin_routes
from maiascore.connections import get_db
from maiascore.console import routes as console_routes
from maiascore.dashboards import routes as dashboards_routes
from maiascore.dashboards.v7 import routes as dashboards_v7_routes
from maiascore.datasets import routes as datasets_routes
from maiascore.health import routes as health_routes
from maiascore.http.api import Api, install_converters
from maiascore.http.openapi import spec_kwargs
from maiascore.auth.access import rate_limit_headers
from maiascore.http import bounds
from maiascore.http.formats import FormatSuffixMiddleware, negotiate_early, render_negotiated
from maiascore.http.metrics import blp as metrics_scrape, record_request
from maiascore.http.requestlog import configure_logging, finish_request, start_request
from maiascore.http.security import security_headers
from maiascore.http.swagger import blp as swagger_assets
from maiascore.indexes import ensure_indexes
from maiascore.monitoring import routes as monitoring_routes
from maiascore.reports import routes as reports_routes
from maiascore.scoring_runs import routes as scoring_runs_routes
from maiascore.trainings import routes as trainings_routes

BLUEPRINTS = (health_routes.blp, auth_routes.blp, admin_routes.blp, reports_routes.blp, trainings_routes.blp,
              datasets_routes.blp, dashboards_routes.blp, dashboards_v7_routes.blp, scoring_runs_routes.blp,
              alerts_routes.blp,
              monitoring_routes.blp)


def create_app(config=None):
    """App factory: ``config`` is a ``config.Config`` (default: read from the environment)."""
    cfg = config or Config()
    app = Flask(__name__)
    app.config.update(cfg.as_dict())
    app.config["MAIASCORE"] = cfg
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = False  # set per token from JWT_EXPIRES_SECONDS
    app.json.sort_keys = False
    app.wsgi_app = FormatSuffixMiddleware(app.wsgi_app)
    if cfg.TRUSTED_PROXIES:
        # Only behind proxies the operator runs: X-Forwarded-For then names the client that
        # per-address throttles count; without the setting a client could pick its own address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=cfg.TRUSTED_PROXIES)
    configure_logging(cfg.LOG_LEVEL)
    JWTManager(app)

    api = Api(app, spec_kwargs={"info": {"description": "Score references with your own XGBoost models."},
                                **spec_kwargs()})
    install_converters(app, api)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer",
                                                       "description": "A JWT from /auth/local or an API token"})
    api.spec.components.security_scheme("basicAuth", {"type": "http", "scheme": "basic",
                                                      "description": "email:apiToken (ThousandEyes style)"})
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(swagger_assets)
    app.register_blueprint(console_routes.blp)  # the /app page: plain Flask, not part of the API spec
    app.register_blueprint(metrics_scrape)  # /metrics: for Prometheus, not part of the API spec

    app.before_request(start_request)
    app.before_request(negotiate_early)
    app.after_request(rate_limit_headers)
    app.after_request(render_negotiated)
    app.after_request(record_request)
    app.after_request(finish_request)
    app.after_request(security_headers)
    app.teardown_request(bounds.release)

    if not cfg.SKIP_INDEXES:
        with app.app_context():
            try:
                ensure_indexes(get_db())
            except Exception:  # the API starts without Mongo and answers 503 until it is back
                app.logger.warning("could not create indexes at start; will answer 503 until MongoDB is up")
    app.extensions["maiascore.api"] = api
    return app
