"""Settings read from environment variables, one class per deployment kind.

Every knob the service has lives here and is listed in docs/operations.md; nothing else in
the code reads ``os.environ``.
"""
import os
import secrets
import sys


def _env(name, default=None, cast=str):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if cast is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return cast(raw)


class MissingSecretKey(RuntimeError):
    """A web process without SECRET_KEY: each gunicorn worker would sign JWTs with its own random key."""


SECRET_KEY_HELP = (
    "SECRET_KEY is not set. It signs the API's JWTs and must be the same in every web process, so the web "
    "app refuses to start without it. Set it once and keep it, e.g.\n"
    "    export SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')\n"
    "(`make run` keeps one in var/secret_key; JWT_SECRET_KEY, if set, is used instead.)")


class Config:
    """Production defaults; every value can be overridden by the variable of the same name.

    ``require_secret_key``: the web app signs JWTs, so it refuses to start without a key; workers and
    the CLI sign none and pass False (they get a throwaway key). MAIASCORE_TESTING waives it too.
    """

    def __init__(self, require_secret_key=True, **overrides):
        secret = overrides.get("SECRET_KEY") or overrides.get("JWT_SECRET_KEY") or _env("SECRET_KEY") \
            or _env("JWT_SECRET_KEY")
        if not secret and require_secret_key and not _env("MAIASCORE_TESTING", False, bool):
            raise MissingSecretKey(SECRET_KEY_HELP)
        self.MONGO_URI = _env("MONGO_URI", "mongodb://127.0.0.1:27017")
        self.MONGO_DB_NAME = _env("MONGO_DB_NAME", "maiascore")
        self.MONGO_TIMEOUT_MS = _env("MONGO_TIMEOUT_MS", 5000, int)
        self.REDIS_URL = _env("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.SECRET_KEY = _env("SECRET_KEY") or _env("JWT_SECRET_KEY") or secrets.token_hex(32)
        self.JWT_SECRET_KEY = _env("JWT_SECRET_KEY", self.SECRET_KEY)
        self.JWT_EXPIRES_SECONDS = _env("JWT_EXPIRES_SECONDS", 3600, int)
        self.ALLOW_REGISTRATION = _env("ALLOW_REGISTRATION", False, bool)
        self.MAX_CONTENT_LENGTH = _env("MAX_CONTENT_LENGTH", 16 * 1024 * 1024, int)
        self.MAX_BODY_KEYS = _env("MAX_BODY_KEYS", 1000, int)
        self.DATASET_MAX_BYTES = _env("DATASET_MAX_BYTES", 8 * 1024 * 1024, int)
        self.RATE_LIMIT_PER_MINUTE = _env("RATE_LIMIT_PER_MINUTE", 240, int)
        self.LOGIN_FAILURES_PER_MINUTE = _env("LOGIN_FAILURES_PER_MINUTE", 10, int)
        self.UNAUTHORIZED_PER_MINUTE = _env("UNAUTHORIZED_PER_MINUTE", 100, int)
        self.ARGON2_TIME_COST = _env("ARGON2_TIME_COST", 3, int)
        self.ARGON2_MEMORY_KIB = _env("ARGON2_MEMORY_KIB", 65536, int)
        self.TRAINING_JOB_TIMEOUT = _env("TRAINING_JOB_TIMEOUT", 3600, int)
        self.TRAINING_HEARTBEAT_SECONDS = _env("TRAINING_HEARTBEAT_SECONDS", 10, int)
        self.SCORING_JOB_TIMEOUT = _env("SCORING_JOB_TIMEOUT", 600, int)
        self.SCORING_BATCH_SIZE = _env("SCORING_BATCH_SIZE", 1000, int)
        self.SCORING_LEASE_SECONDS = _env("SCORING_LEASE_SECONDS", 120, int)
        self.SWEEP_INTERVAL_SECONDS = _env("SWEEP_INTERVAL_SECONDS", 60, int)
        self.SWEEP_GRACE_SECONDS = _env("SWEEP_GRACE_SECONDS", 30, int)
        self.BULK_MAX_ITEMS = _env("BULK_MAX_ITEMS", 10000, int)
        self.MAX_WAIT_SECONDS = _env("MAX_WAIT_SECONDS", 30, int)
        self.SCORE_BASE_POINTS = _env("SCORE_BASE_POINTS", 600, float)
        self.SCORE_BASE_ODDS = _env("SCORE_BASE_ODDS", 50.0, float)
        self.SCORE_PDO = _env("SCORE_PDO", 20, float)
        self.SCORE_MIN = _env("SCORE_MIN", 300, int)
        self.SCORE_MAX = _env("SCORE_MAX", 850, int)
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO")
        self.API_TITLE = "MaiaScore"
        self.API_VERSION = "1.0.0"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "/docs"
        # served by maiascore.http.swagger from the pinned swagger-ui-bundle package: /docs works offline
        self.OPENAPI_SWAGGER_UI_URL = "/docs/static/"
        self.JSON_SORT_KEYS = False
        for key, value in overrides.items():
            setattr(self, key, value)

    def as_dict(self):
        return {k: v for k, v in vars(self).items() if k.isupper()}


class TestConfig(Config):
    """Fast password hashing and short sweeps so the suite runs in minutes, not hours."""

    def __init__(self, **overrides):
        defaults = dict(ARGON2_TIME_COST=1, ARGON2_MEMORY_KIB=8192, MONGO_TIMEOUT_MS=2000,
                        SWEEP_GRACE_SECONDS=2, SCORING_LEASE_SECONDS=10, TESTING=True)
        defaults.update(overrides)
        super().__init__(require_secret_key=False, **defaults)


_process_settings = None


def settings():
    """The settings in force: the Flask app's inside a request, else the environment's.

    Jobs run outside any app context, so workers read the same variables directly; a
    worker never imports Flask, so Flask is looked up only where something loaded it.
    """
    flask = sys.modules.get("flask")
    if flask is not None and flask.has_app_context():
        return flask.current_app.config["MAIASCORE"]
    global _process_settings
    if _process_settings is None:
        testing = _env("MAIASCORE_TESTING", False, bool)
        _process_settings = TestConfig() if testing else Config(require_secret_key=False)
    return _process_settings


def reset_process_settings():
    global _process_settings
    _process_settings = None
