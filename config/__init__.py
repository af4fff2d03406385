"""Settings read from environment variables, one class per deployment kind.

Every knob the service has lives here and is listed in docs/operations.md; nothing else in
the code reads ``os.environ``.
"""
import json
import os
import secrets
import sys
from pathlib import Path

STACK_STATE_FILE = "stack.json"
DEFAULT_ADMIN_EMAIL = "admin@example.com"
DEFAULT_ADMIN_PASSWORD = "maiascore-admin"


def _env(name, default=None, cast=str):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if cast is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return cast(raw)


def given(*names):
    """Whether the environment sets any of these settings: ``make run`` starts what is not given."""
    return any(_env(name) for name in names)


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
        # VAR_DIR: where `make run` (`maiascore up`) keeps its state, relative to the working directory:
        # the embedded database's data, the generated secret key, logs, and stack.json (the running
        # stack's MONGO_URI / REDIS_URL, written by the launcher and removed when it stops).
        self.VAR_DIR = _env("VAR_DIR", "var")
        # MONGO_URI / REDIS_URL unset: the running `make run` stack's servers (VAR_DIR/stack.json),
        # so `maiascore` commands in another shell reach its embedded database; with no stack running,
        # a local mongod / Redis on their standard ports.
        stack = stack_state(self.VAR_DIR)
        self.MONGO_URI = _env("MONGO_URI") or stack.get("mongo_uri") or "mongodb://127.0.0.1:27017"
        self.MONGO_DB_NAME = _env("MONGO_DB_NAME", "maiascore")
        self.MONGO_TIMEOUT_MS = _env("MONGO_TIMEOUT_MS", 5000, int)
        self.REDIS_URL = _env("REDIS_URL") or stack.get("redis_url") or "redis://127.0.0.1:6379/0"
        # `make run`: the address the API (and the console, /app) listens on. Loopback unless HOST says
        # otherwise: the admin password `make run` prints is well known. PORT defaults to 5000.
        self.HOST = _env("HOST", "127.0.0.1")
        self.PORT = _env("PORT", 5000, int)
        # gunicorn: WEB_CONCURRENCY worker processes (gevent workers: a request waiting for a score, for
        # MongoDB or Redis holds no thread) of at most WEB_WORKER_CONNECTIONS open connections each;
        # WEB_BACKLOG: connections the kernel queues before gunicorn accepts them; WEB_KEEPALIVE_SECONDS:
        # how long an idle keep-alive connection stays open.
        self.WEB_CONCURRENCY = _env("WEB_CONCURRENCY", 2, int)
        self.WEB_WORKER_CONNECTIONS = _env("WEB_WORKER_CONNECTIONS", 1000, int)
        self.WEB_BACKLOG = _env("WEB_BACKLOG", 2048, int)
        self.WEB_KEEPALIVE_SECONDS = _env("WEB_KEEPALIVE_SECONDS", 5, int)
        # Prefix of every key, channel and queue this deployment uses in Redis, so that several
        # deployments can share one Redis database without running each other's jobs.
        # Unset: the running `make run` stack's (VAR_DIR/stack.json), so a `maiascore train` from another
        # shell queues where that stack's workers listen.
        self.REDIS_PREFIX = _env("REDIS_PREFIX") or stack.get("redis_prefix") or "maiascore"
        self.SECRET_KEY = _env("SECRET_KEY") or _env("JWT_SECRET_KEY") or secrets.token_hex(32)
        self.JWT_SECRET_KEY = _env("JWT_SECRET_KEY", self.SECRET_KEY)
        self.JWT_EXPIRES_SECONDS = _env("JWT_EXPIRES_SECONDS", 3600, int)
        self.ALLOW_REGISTRATION = _env("ALLOW_REGISTRATION", False, bool)
        self.MAX_CONTENT_LENGTH = _env("MAX_CONTENT_LENGTH", 16 * 1024 * 1024, int)
        self.MAX_BODY_KEYS = _env("MAX_BODY_KEYS", 1000, int)
        self.DATASET_MAX_BYTES = _env("DATASET_MAX_BYTES", 8 * 1024 * 1024, int)
        self.RATE_LIMIT_PER_MINUTE = _env("RATE_LIMIT_PER_MINUTE", 240, int)
        # Failed password logins a minute: LOGIN_FAILURES_PER_MINUTE per (identifier, address) pair and
        # per address; LOGIN_FAILURES_PER_MINUTE_PER_IDENTIFIER per identifier from all addresses, much
        # higher, so guessing from one address never locks the owner out from theirs.
        self.LOGIN_FAILURES_PER_MINUTE = _env("LOGIN_FAILURES_PER_MINUTE", 10, int)
        self.LOGIN_FAILURES_PER_MINUTE_PER_IDENTIFIER = _env("LOGIN_FAILURES_PER_MINUTE_PER_IDENTIFIER", 100, int)
        self.UNAUTHORIZED_PER_MINUTE = _env("UNAUTHORIZED_PER_MINUTE", 100, int)
        # Accounts and credentials, one block:
        # LOGINS_PER_MINUTE_PER_ADDRESS: password logins, forgot- and reset-password requests a client
        #   address may make a minute, successful or not (each costs an Argon2 hash on purpose).
        # USER_CREATIONS_PER_HOUR_PER_GROUP: users an account group (open registration: an address) may
        #   try to create an hour; bounds probing which emails or usernames are taken.
        # TRUSTED_PROXIES: how many proxies you run in front append X-Forwarded-For (Werkzeug ProxyFix
        #   x_for); 0, the default, ignores the header so per-address throttles see the socket's peer.
        # PASSWORD_RESET_EXPIRES_SECONDS: life of a reset code; PASSWORD_RESET_URL: page the mail links to
        #   (``?code=`` appended), else the mail carries the bare code.
        # SMTP_HOST/PORT/USER/PASSWORD/FROM/STARTTLS: outgoing mail; without SMTP_HOST each message is
        #   written as an .eml file under MAIL_DIR instead (as in ``make run``), by default VAR_DIR/mail so
        #   that every path of a stack's state follows VAR_DIR.
        self.LOGINS_PER_MINUTE_PER_ADDRESS = _env("LOGINS_PER_MINUTE_PER_ADDRESS", 30, int)
        self.USER_CREATIONS_PER_HOUR_PER_GROUP = _env("USER_CREATIONS_PER_HOUR_PER_GROUP", 60, int)
        self.TRUSTED_PROXIES = _env("TRUSTED_PROXIES", 0, int)
        self.PASSWORD_RESET_EXPIRES_SECONDS = _env("PASSWORD_RESET_EXPIRES_SECONDS", 3600, int)
        self.PASSWORD_RESET_URL = _env("PASSWORD_RESET_URL")
        self.SMTP_HOST = _env("SMTP_HOST")
        self.SMTP_PORT = _env("SMTP_PORT", 587, int)
        self.SMTP_USER = _env("SMTP_USER")
        self.SMTP_PASSWORD = _env("SMTP_PASSWORD")
        self.SMTP_FROM = _env("SMTP_FROM", "MaiaScore <no-reply@localhost>")
        self.SMTP_STARTTLS = _env("SMTP_STARTTLS", True, bool)
        self.MAIL_DIR = _env("MAIL_DIR") or str(Path(self.VAR_DIR) / "mail")
        self.ARGON2_TIME_COST = _env("ARGON2_TIME_COST", 3, int)
        self.ARGON2_MEMORY_KIB = _env("ARGON2_MEMORY_KIB", 65536, int)
        self.TRAINING_JOB_TIMEOUT = _env("TRAINING_JOB_TIMEOUT", 3600, int)
        self.TRAINING_HEARTBEAT_SECONDS = _env("TRAINING_HEARTBEAT_SECONDS", 10, int)
        # Training worker processes `make run` and the Procfile's trainer start: trainings and scoring runs
        # running at once on this host, the groups taking turns on them.
        self.TRAINING_WORKERS = _env("TRAINING_WORKERS", 1, int)
        # Trainings of one account group that may run at once; the others stay queued.
        self.TRAININGS_PER_GROUP = _env("TRAININGS_PER_GROUP", 1, int)
        # How long a training that found its group's slots taken waits before trying again.
        self.TRAINING_SLOT_RETRY_SECONDS = _env("TRAINING_SLOT_RETRY_SECONDS", 5, int)
        # Largest boosting rounds x max_depth x dataset rows a training may ask for (refused at POST).
        self.TRAINING_WORK_BUDGET = _env("TRAINING_WORK_BUDGET", 1_000_000_000, int)
        # Most columns (target included) a training's dataset or an uploaded CSV may have.
        self.TRAINING_MAX_COLUMNS = _env("TRAINING_MAX_COLUMNS", 1000, int)
        # Most distinct feature names the labelled reports may carry for a training on "reports".
        self.TRAINING_MAX_REPORT_FEATURES = _env("TRAINING_MAX_REPORT_FEATURES", 1000, int)
        self.SCORING_JOB_TIMEOUT = _env("SCORING_JOB_TIMEOUT", 600, int)
        self.SCORING_BATCH_SIZE = _env("SCORING_BATCH_SIZE", 1000, int)
        # Reports a batch job scores between two looks at the singles queue: a waiting drain goes first.
        self.SCORING_TURN_ROWS = _env("SCORING_TURN_ROWS", 200, int)
        self.SCORING_LEASE_SECONDS = _env("SCORING_LEASE_SECONDS", 120, int)
        self.SWEEP_INTERVAL_SECONDS = _env("SWEEP_INTERVAL_SECONDS", 60, int)
        self.SWEEP_GRACE_SECONDS = _env("SWEEP_GRACE_SECONDS", 30, int)
        self.BULK_MAX_ITEMS = _env("BULK_MAX_ITEMS", 10000, int)
        # Stored dashboards (/v6/reports, /v7/dashboards), past each a 413 or 400 naming it:
        # DASHBOARD_MAX_BYTES: body of a request to the dashboard routes; DASHBOARD_MAX_WIDGETS: widgets in
        # one dashboard; DASHBOARD_MAX_WIDGET_PARTS: cards of a Number widget, columns of a Multi Metric
        # Table; DASHBOARD_MAX_EXTRA_BYTES: the properties /v7 keeps for the round trip without knowing
        # them, a dashboard's and its widgets', cards' and columns' together, counted as compact JSON.
        self.DASHBOARD_MAX_BYTES = _env("DASHBOARD_MAX_BYTES", 1024 * 1024, int)
        self.DASHBOARD_MAX_WIDGETS = _env("DASHBOARD_MAX_WIDGETS", 100, int)
        self.DASHBOARD_MAX_WIDGET_PARTS = _env("DASHBOARD_MAX_WIDGET_PARTS", 50, int)
        self.DASHBOARD_MAX_EXTRA_BYTES = _env("DASHBOARD_MAX_EXTRA_BYTES", 64 * 1024, int)
        self.MAX_WAIT_SECONDS = _env("MAX_WAIT_SECONDS", 30, int)
        # Waiting, bulk and authentication cost, one block:
        # MAX_WAITS_PER_GROUP: requests of one account group that may wait for a score at once
        #   (``?wait`` / ``Prefer: wait``); past it 429 with Retry-After, so one tenant's waits stay bounded.
        # AUTH_CACHE_SECONDS: how long a web process trusts a login it has read (header -> user) without
        #   reading MongoDB again; revocation stays immediate through a per-user marker in Redis. 0: off.
        # WAIT_HANDOFF_SECONDS: a POST that waits hands its report to the scoring drain, which stores it
        #   with its result; if none did within this many seconds, the request stores it queued itself.
        # Scoring a waiting POST in the web process that received it (``reports.request_lane``):
        # WEB_SCORING: on (1) or off (0: every report goes to the scoring workers).
        # WEB_SCORING_MAX_MODEL_BYTES: a model whose binary is larger is scored by the workers only.
        # WEB_SCORING_MAX_MS: a model that took longer (CPU) to score a report, three times in a row, is scored by
        #   the workers for the next 10 minutes.
        # WEB_SCORING_MS_PER_MINUTE: web process CPU time one account group's reports may take a minute; past it
        #   its waiting POSTs go to the workers (still answered, in turn with the other groups).
        # MODEL_CACHE_BYTES: models a web process or worker keeps loaded, by the size of their binaries; the
        #   least recently used goes first (one model is always kept).
        self.WEB_SCORING = _env("WEB_SCORING", True, bool)
        self.WEB_SCORING_MAX_MODEL_BYTES = _env("WEB_SCORING_MAX_MODEL_BYTES", 16 * 1024 * 1024, int)
        self.WEB_SCORING_MAX_MS = _env("WEB_SCORING_MAX_MS", 25, int)
        self.WEB_SCORING_MS_PER_MINUTE = _env("WEB_SCORING_MS_PER_MINUTE", 60000, int)
        self.MODEL_CACHE_BYTES = _env("MODEL_CACHE_BYTES", 256 * 1024 * 1024, int)
        self.MAX_WAITS_PER_GROUP = _env("MAX_WAITS_PER_GROUP", 16, int)
        self.WAIT_HANDOFF_SECONDS = _env("WAIT_HANDOFF_SECONDS", 1.0, float)
        self.AUTH_CACHE_SECONDS = _env("AUTH_CACHE_SECONDS", 30, int)
        # Reads a client shapes (list filters and sorts, counts, widget data), one block:
        # QUERY_MAX_TIME_MS: the time MongoDB may spend on one such read (maxTimeMS); past it 503 naming it.
        # HEAVY_QUERY_MAX_TIME_MS: the same for a heavy one (it keeps the database from the other groups).
        # HEAVY_QUERY_WEIGHT: requests a heavy shape (a contains filter, a sort no index serves, widget data
        #   over more than HEAVY_WIDGET_DAYS) counts against the group's RATE_LIMIT_PER_MINUTE.
        # HEAVY_QUERIES_PER_GROUP: heavy reads of one account group that may run at once; past it 429.
        # HEAVY_READ_MS_PER_MINUTE: milliseconds of heavy reads an account group may run a minute; past it 429.
        # WIDGET_CACHE_SECONDS: how long widget data is kept per (widget, window, bin); 0: off.
        self.QUERY_MAX_TIME_MS = _env("QUERY_MAX_TIME_MS", 5000, int)
        self.HEAVY_QUERY_MAX_TIME_MS = _env("HEAVY_QUERY_MAX_TIME_MS", 1000, int)
        self.HEAVY_QUERY_WEIGHT = _env("HEAVY_QUERY_WEIGHT", 10, int)
        self.HEAVY_QUERIES_PER_GROUP = _env("HEAVY_QUERIES_PER_GROUP", 2, int)
        self.HEAVY_READ_MS_PER_MINUTE = _env("HEAVY_READ_MS_PER_MINUTE", 6000, int)
        self.HEAVY_WIDGET_DAYS = _env("HEAVY_WIDGET_DAYS", 31, int)
        self.WIDGET_CACHE_SECONDS = _env("WIDGET_CACHE_SECONDS", 10, int)
        self.SCORE_BASE_POINTS = _env("SCORE_BASE_POINTS", 600, float)
        self.SCORE_BASE_ODDS = _env("SCORE_BASE_ODDS", 50.0, float)
        self.SCORE_PDO = _env("SCORE_PDO", 20, float)
        self.SCORE_MIN = _env("SCORE_MIN", 300, int)
        self.SCORE_MAX = _env("SCORE_MAX", 850, int)
        # Model health: a figure resting on fewer reports than this is withheld (and says so); a
        # monitoring window may span at most this many days.
        self.MONITORING_MIN_COUNT = _env("MONITORING_MIN_COUNT", 50, int)
        self.MONITORING_MAX_WINDOW_DAYS = _env("MONITORING_MAX_WINDOW_DAYS", 93, int)
        # --- Scale-out (docs/scaling.md) ---
        # Address of a Dask scheduler (tcp://host:8786). Set: trainings with meta.engine "auto" (the default)
        # and scoring runs run on that cluster through xgboost.dask; unset: everything runs in the RQ workers.
        self.DASK_SCHEDULER_ADDRESS = _env("DASK_SCHEDULER_ADDRESS")
        # Seconds to wait for the scheduler when connecting, before the training fails with that reason.
        self.DASK_CONNECT_TIMEOUT = _env("DASK_CONNECT_TIMEOUT", 10, int)
        # Boosting rounds a Dask training runs between two progress reports / cancel checks.
        self.DASK_ROUNDS_PER_CHUNK = _env("DASK_ROUNDS_PER_CHUNK", 25, int)
        # Up to this many rows a Dask training splits train/validation/test exactly as a local one (it
        # gathers one byte of label per row); above it, each row's part is drawn from a hash of the seed.
        self.DASK_EXACT_SPLIT_ROWS = _env("DASK_EXACT_SPLIT_ROWS", 2_000_000, int)
        # Bytes per Dask partition when reading a CSV data set (gzip files are one partition each).
        self.DASK_BLOCKSIZE = _env("DASK_BLOCKSIZE", 64 * 1024 * 1024, int)
        # Where data sets registered by URI may live, separated by spaces: file:// paths or s3:// prefixes;
        # "{aid}" stands for the account group's id (file:///data/groups/{aid}/). Empty: no URI data sets.
        # s3:// needs `pip install s3fs` and credentials in the environment (AWS_*), never in MongoDB.
        self.DATASET_ROOTS = _env("DATASET_ROOTS", "")
        # Bytes of a URI data set read at registration to infer and show its schema.
        self.DATASET_SAMPLE_BYTES = _env("DATASET_SAMPLE_BYTES", 1024 * 1024, int)
        # Bytes at most read, decompressed, of a URI data set read whole (a local training, a gzip CSV on Dask).
        self.DATASET_READ_MAX_BYTES = _env("DATASET_READ_MAX_BYTES", 1024 * 1024 * 1024, int)
        # Rows of a scoring run scored and recorded together without Dask: a resumed run skips recorded chunks.
        self.SCORING_RUN_CHUNK_ROWS = _env("SCORING_RUN_CHUNK_ROWS", 50_000, int)
        # --- end of scale-out ---
        # --- Alerts (docs/alerts.md) ---
        # Seconds between two evaluations of every alert rule (the scoring worker's RQ scheduler runs them).
        self.ALERT_EVALUATION_SECONDS = _env("ALERT_EVALUATION_SECONDS", 60, int)
        # Alert rules an account group may keep, and notifications (webhooks plus email recipients) per rule.
        self.ALERT_RULES_PER_GROUP = _env("ALERT_RULES_PER_GROUP", 50, int)
        self.ALERT_NOTIFICATIONS_PER_RULE = _env("ALERT_NOTIFICATIONS_PER_RULE", 10, int)
        # Longest evaluation window of a rule, in seconds: what one rule may cost each evaluation.
        self.ALERT_MAX_WINDOW_SECONDS = _env("ALERT_MAX_WINDOW_SECONDS", 86400, int)
        # Webhook connectors and webhook operations an account group may keep, each.
        self.WEBHOOK_CONNECTORS_PER_GROUP = _env("WEBHOOK_CONNECTORS_PER_GROUP", 20, int)
        # Bytes of a rule, connector or operation body, and of one notification's JSON payload.
        self.ALERT_MAX_BODY_BYTES = _env("ALERT_MAX_BODY_BYTES", 16 * 1024, int)
        # Hosts webhooks may reach, separated by spaces or commas: names with * wildcards (*.example.com),
        # IP addresses or CIDR ranges, optionally :port. Loopback, link-local, private and other special
        # addresses are refused unless an IP or CIDR entry names them; "*" admits every public host.
        self.WEBHOOK_ALLOWED_HOSTS = _env("WEBHOOK_ALLOWED_HOSTS", "*")
        # Seconds a webhook may take to connect and to answer.
        self.WEBHOOK_TIMEOUT_SECONDS = _env("WEBHOOK_TIMEOUT_SECONDS", 5.0, float)
        # Attempts per notification, and the first retry's delay (doubling after each failure, capped).
        self.WEBHOOK_MAX_ATTEMPTS = _env("WEBHOOK_MAX_ATTEMPTS", 6, int)
        self.WEBHOOK_RETRY_BASE_SECONDS = _env("WEBHOOK_RETRY_BASE_SECONDS", 30.0, float)
        self.WEBHOOK_RETRY_MAX_SECONDS = _env("WEBHOOK_RETRY_MAX_SECONDS", 3600.0, float)
        # Notifications one delivery job sends to one endpoint before yielding the worker to others.
        self.WEBHOOK_DELIVERIES_PER_JOB = _env("WEBHOOK_DELIVERIES_PER_JOB", 10, int)
        # --- end of alerts ---
        # Metrics (GET /metrics, Prometheus text format): METRICS_TOKEN, when set, lets a scraper in with
        # ``Authorization: Bearer <token>``; without it only direct (not proxied) loopback requests are
        # answered. PROMETHEUS_MULTIPROC_DIR: the directory where every web and RQ worker process keeps
        # its values (prometheus_client's multiprocess mode); `make run` uses VAR_DIR/metrics and empties
        # it at start. Unset: a scrape sees only the process that answers it.
        self.METRICS_TOKEN = _env("METRICS_TOKEN")
        self.PROMETHEUS_MULTIPROC_DIR = _env("PROMETHEUS_MULTIPROC_DIR")
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO")
        # `make run` and `maiascore ensure-admin`: the Default group's admin, and whether `make run` trains
        # the bundled demo model once.
        self.MAIASCORE_ADMIN_EMAIL = _env("MAIASCORE_ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL)
        self.MAIASCORE_ADMIN_PASSWORD = _env("MAIASCORE_ADMIN_PASSWORD", DEFAULT_ADMIN_PASSWORD)
        self.MAIASCORE_DEMO_MODEL = _env("MAIASCORE_DEMO_MODEL", True, bool)
        # Not an environment variable: an app built without a database (a test's) skips creating indexes.
        self.SKIP_INDEXES = False
        self.API_TITLE = "MaiaScore"
        self.API_VERSION = "1.0.0"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "/docs"
        # served by maiascore.http.swagger from the pinned swagger-ui-bundle package: /docs works offline
        self.OPENAPI_SWAGGER_UI_URL = "/docs/static/"
        # no badge from validator.swagger.io: /docs loads nothing from another site (its CSP forbids it)
        self.OPENAPI_SWAGGER_UI_CONFIG = {"validatorUrl": None}
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


def stack_state(var_dir):
    """The running `make run` stack's state file (``VAR_DIR/stack.json``) as a dict; empty when there
    is none, it is unreadable, or the launcher that wrote it is gone (killed before it could remove it)."""
    try:
        state = json.loads((Path(var_dir) / STACK_STATE_FILE).read_text())
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return {}
    except PermissionError:
        pass  # alive, run by another user
    return state


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
