"""Stratus settings: every value comes from the environment (README, "Configuration").

Local mode (the default) runs on the local AWS stack with SQLite under var/ and needs no
variables at all. Production mode (DJANGO_ENV=production) has no defaults for anything that
differs between deployments: a missing variable stops start-up, and one message lists them
all. No production setting keeps state on a node's disk.
"""

import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.utils.csp import CSP

from .env import Env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

_env_mode = Env(production=False)
STRATUS_ENV = _env_mode.choice("DJANGO_ENV", ("local", "production"), "local")
PRODUCTION = STRATUS_ENV == "production"
env = Env(production=PRODUCTION)


def _local_secret_key():
    """A development secret generated once and kept under var/, so logins survive restarts."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


# -- core -----------------------------------------------------------------------------------
SECRET_KEY = env.str("DJANGO_SECRET_KEY", required_in_production=True) or (
    "" if PRODUCTION else _local_secret_key()
)
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS")
DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
PORT = env.int("PORT", 8000, minimum=1)
# While this file exists the node is draining (about to be stopped by scale-in): /readyz
# answers 503 at once, so the balancer stops sending it requests before it is signalled.
# serve_node sets it to its run directory's `draining`; empty turns the feature off.
STRATUS_DRAIN_FILE = env.str("STRATUS_DRAIN_FILE", default="")
SITE_URL = env.str("STRATUS_SITE_URL", local_default=f"http://127.0.0.1:{PORT}",
                   required_in_production=True).rstrip("/")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", local_default=("127.0.0.1", "localhost"),
                         required_in_production=True)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", local_default=())

INSTALLED_APPS = [
    # First, so its registration/ templates win over the admin's for password change.
    "apps.accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "storages",
    "storage_backends",
    "apps.library",
    "apps.uploads",
    "apps.sharing",
    "apps.trash",
    "apps.exports",
    "apps.ops",
]

MIDDLEWARE = [
    "apps.ops.middleware.RequestIdMiddleware",
    # Near the top, so every response below it gets the policy: error pages, the 503 and
    # the 413 of the body limit too.
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Above the session middleware: loading and saving the session count against the budget.
    "storage_backends.budget.AWSBudgetMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Before anything reads a request body (CsrfViewMiddleware reads request.POST); after the
    # session, which tells whether the upload form's larger limit applies.
    "apps.ops.middleware.RequestBodyLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.ops.middleware.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                # csp_nonce, for {% csp_nonce_attr %} (the admin's scripts and styles).
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# -- database -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env.str("DATABASE_URL", local_default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
                required_in_production=True) or "sqlite://:memory:",
        conn_max_age=env.int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# -- AWS ------------------------------------------------------------------------------------
# storage_backends.aws makes every boto3 client from these. Endpoints are botocore's own
# per-service variables; unset in production, where AWS's endpoints apply.
_LOCAL_MOTO = "http://127.0.0.1:4566"
AWS_REGION = env.str("AWS_REGION", local_default="us-east-1", required_in_production=True)
AWS_ENDPOINT_URLS = {
    "s3": env.str("AWS_ENDPOINT_URL_S3", local_default=_LOCAL_MOTO),
    "sqs": env.str("AWS_ENDPOINT_URL_SQS", local_default=_LOCAL_MOTO),
    "sdb": env.str("AWS_ENDPOINT_URL_SIMPLEDB", local_default="http://127.0.0.1:4567"),
    "autoscaling": env.str("AWS_ENDPOINT_URL_AUTOSCALING", local_default=_LOCAL_MOTO),
    "dynamodb": env.str("AWS_ENDPOINT_URL_DYNAMODB", local_default=_LOCAL_MOTO),
    "sesv2": env.str("AWS_ENDPOINT_URL_SESV2", local_default=_LOCAL_MOTO),
}
# Locally the stack accepts any key; in production the instance role's credentials apply.
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", local_default="local")
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", local_default="local")
AWS_RETRY_MODE = env.choice("AWS_RETRY_MODE", ("standard", "adaptive"), "standard")
AWS_MAX_ATTEMPTS = env.int("AWS_MAX_ATTEMPTS", 5, minimum=1)
AWS_CONNECT_TIMEOUT = env.float("AWS_CONNECT_TIMEOUT", 2.0, minimum=0.1)
AWS_READ_TIMEOUT = env.float("AWS_READ_TIMEOUT", 10.0, minimum=0.1)
# A web request's AWS calls, retries included, must be done within this many seconds, or
# the request gets the 503 page (storage_backends.budget). The worker and commands have no
# such budget: AWS_MAX_ATTEMPTS and AWS_READ_TIMEOUT bound them.
STRATUS_AWS_REQUEST_BUDGET = env.float("STRATUS_AWS_REQUEST_BUDGET", 5.0, minimum=0.1)
GUNICORN_THREADS = env.int("GUNICORN_THREADS", 4, minimum=1)
# Every gunicorn thread may hold a connection, plus /readyz's parallel checks.
AWS_MAX_POOL_CONNECTIONS = env.int("AWS_MAX_POOL_CONNECTIONS", GUNICORN_THREADS + 4, minimum=1)

STRATUS_MEDIA_BUCKET = env.str("STRATUS_MEDIA_BUCKET", local_default="stratus-media",
                               required_in_production=True)
STRATUS_STATIC_BUCKET = env.str("STRATUS_STATIC_BUCKET", required_in_production=True)
STRATUS_SQS_QUEUE_PREFIX = env.str("STRATUS_SQS_QUEUE_PREFIX", default="stratus-")
STRATUS_SQS_QUEUES = env.list("STRATUS_SQS_QUEUES", local_default=("default",)) or ["default"]
STRATUS_SQS_MAX_RECEIVE_COUNT = env.int("STRATUS_SQS_MAX_RECEIVE_COUNT", 10, minimum=2)
# Where sessions, the cache (both aliases) and task results live: SimpleDB, the designed
# store, or DynamoDB, for AWS accounts SimpleDB no longer takes (docs/dynamodb.md).
STRATUS_STATE_STORE = env.choice("STRATUS_STATE_STORE", ("simpledb", "dynamodb"), "simpledb")
STRATUS_SIMPLEDB_DOMAIN_PREFIX = env.str("STRATUS_SIMPLEDB_DOMAIN_PREFIX", default="stratus-")
# Each domain may also be named whole (STRATUS_SIMPLEDB_SESSIONS_DOMAIN ...): CloudFormation
# names the domains it creates itself (deploy/stratus.yaml).
_SIMPLEDB_DOMAINS = {
    name: env.str(f"STRATUS_SIMPLEDB_{name.upper().replace('-', '_')}_DOMAIN",
                  default=STRATUS_SIMPLEDB_DOMAIN_PREFIX + name)
    for name in ("sessions", "cache", "login-failures", "task-results", "task-metrics",
                 "task-schedules")
}
SIMPLEDB_SESSIONS_DOMAIN = _SIMPLEDB_DOMAINS["sessions"]
SIMPLEDB_CACHE_DOMAIN = _SIMPLEDB_DOMAINS["cache"]
STRATUS_DYNAMODB_TABLE_PREFIX = env.str("STRATUS_DYNAMODB_TABLE_PREFIX", default="stratus-")
DYNAMODB_SESSIONS_TABLE = STRATUS_DYNAMODB_TABLE_PREFIX + "sessions"
_DYNAMODB = STRATUS_STATE_STORE == "dynamodb"


def _state_location(name):
    """Where the store in use keeps `name` (cache, login-failures): a table or a domain."""
    return STRATUS_DYNAMODB_TABLE_PREFIX + name if _DYNAMODB else _SIMPLEDB_DOMAINS[name]


# -- files ----------------------------------------------------------------------------------
STRATUS_DOWNLOAD_URL_EXPIRY = env.int("STRATUS_DOWNLOAD_URL_EXPIRY", 300, minimum=1)
# The latest date a share link may be given (days from today): docs/sharing.md.
STRATUS_SHARE_MAX_DAYS = env.int("STRATUS_SHARE_MAX_DAYS", 365, minimum=1)
# Days a deleted file stays in the trash before `empty_trash` purges it: docs/trash.md.
STRATUS_TRASH_DAYS = env.int("STRATUS_TRASH_DAYS", 30, minimum=1)
# Zip exports (docs/exports.md): seconds a ready zip's link works, and files per zip.
STRATUS_EXPORT_EXPIRY = env.int("STRATUS_EXPORT_EXPIRY", 86400, minimum=60)
STRATUS_EXPORT_MAX_FILES = env.int("STRATUS_EXPORT_MAX_FILES", 1000, minimum=1)
# A file whose facts are still pending this long after its upload gets its task sent again
# when its page is opened (at most once per this many seconds): the node that stored it may
# have died between committing the row and sending the task.
STRATUS_FACTS_RESEND_AFTER = env.int("STRATUS_FACTS_RESEND_AFTER", 60, minimum=1)
# Browsers send files straight to S3 (apps/uploads, docs/uploads.md): up to this size, as one
# presigned POST up to STRATUS_UPLOAD_MULTIPART_THRESHOLD, in parallel multipart parts above.
STRATUS_UPLOAD_MAX_BYTES = env.int("STRATUS_UPLOAD_MAX_BYTES", 5 * 1024**3, minimum=1)
STRATUS_UPLOAD_MULTIPART_THRESHOLD = env.int("STRATUS_UPLOAD_MULTIPART_THRESHOLD",
                                             16 * 1024**2, minimum=0)
# How long a presigned POST or part URL stays valid; parts are signed shortly before use.
STRATUS_UPLOAD_URL_EXPIRY = env.int("STRATUS_UPLOAD_URL_EXPIRY", 900, minimum=60)
# Unfinished uploads a user may hold at once, and how long one is kept before
# `manage.py clearuploads` aborts it (S3's lifecycle rule also aborts parts after a day).
STRATUS_UPLOAD_PENDING_MAX = env.int("STRATUS_UPLOAD_PENDING_MAX", 20, minimum=1)
STRATUS_UPLOAD_PENDING_EXPIRY = env.int("STRATUS_UPLOAD_PENDING_EXPIRY", 24 * 3600,
                                        minimum=60)
# Each user's storage quota in bytes (files plus uploads under way); 0: no quota. An upload
# that would pass it is refused before any byte is sent (apps/uploads/quota.py).
STRATUS_USER_QUOTA_BYTES = env.int("STRATUS_USER_QUOTA_BYTES", 10 * 1024**3, minimum=0)
# The plain upload form, for browsers without JavaScript, sends the file through the node:
# a much lower limit, since the node carries every byte.
STRATUS_FORM_UPLOAD_MAX_BYTES = env.int("STRATUS_FORM_UPLOAD_MAX_BYTES",
                                        min(100 * 1024**2, STRATUS_UPLOAD_MAX_BYTES), minimum=1)
# Bigger uploads stream to a temporary file that Django deletes when the request ends.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# The most a node reads of a request body (docs/nodes.md, "Request bodies"): the upload form's
# URL takes a file of STRATUS_UPLOAD_MAX_BYTES and its form fields, any other URL far less.
# Both the node's nginx and Django refuse more with 413 (apps.ops.bodies).
STRATUS_BODY_MAX_BYTES = env.int("STRATUS_BODY_MAX_BYTES", 2_621_440, minimum=1024)
STRATUS_UPLOAD_BODY_MAX_BYTES = env.int("STRATUS_UPLOAD_BODY_MAX_BYTES",
                                        STRATUS_FORM_UPLOAD_MAX_BYTES + 65_536, minimum=1024)
FILE_UPLOAD_HANDLERS = [
    "apps.ops.bodies.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Previews (docs/files.md, "Previews"): the most of a file read to make an image or PDF
# preview, and the most pixels an image may claim (Pillow's own limit, ~89 million, is the
# ceiling): a worker decodes at most this many pixels, 4 bytes each, per task.
STRATUS_PREVIEW_MAX_BYTES = env.int("STRATUS_PREVIEW_MAX_BYTES", 50 * 1024 * 1024, minimum=1)
STRATUS_PREVIEW_MAX_PIXELS = env.int("STRATUS_PREVIEW_MAX_PIXELS", 50_000_000, minimum=1)

STATIC_URL = env.str("STRATUS_STATIC_URL", local_default="/static/",
                     required_in_production=True)
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "project" / "static"]
STORAGES = {
    "default": {
        "BACKEND": "storage_backends.s3.MediaStorage",
        "OPTIONS": {
            "bucket_name": STRATUS_MEDIA_BUCKET,
            "querystring_expire": STRATUS_DOWNLOAD_URL_EXPIRY,
        },
    },
    # Locally WhiteNoise serves static files straight from the apps (no collectstatic);
    # in production `collectstatic` puts them, with hashed names, in their S3 bucket.
    "staticfiles": (
        {"BACKEND": "storage_backends.s3.StaticStorage",
         "OPTIONS": {"bucket_name": STRATUS_STATIC_BUCKET,
                     # Served from STATIC_URL (a CDN in front of the bucket).
                     "custom_domain": urlsplit(STATIC_URL).netloc + urlsplit(STATIC_URL).path.rstrip("/"),
                     "url_protocol": (urlsplit(STATIC_URL).scheme or "https") + ":"}}
        if PRODUCTION else
        {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    ),
}
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

# -- sessions, cache, auth ------------------------------------------------------------------
# Both in the state store, shared by every node (docs/sessions-and-cache.md, docs/dynamodb.md).
SESSION_ENGINE = ("storage_backends.dynamodb.sessions" if _DYNAMODB
                  else "storage_backends.simpledb.sessions")
_CACHE_BACKEND = ("storage_backends.dynamodb.cache.DynamoDBCache" if _DYNAMODB
                  else "storage_backends.simpledb.cache.SimpleDBCache")
CACHES = {
    "default": {
        "BACKEND": _CACHE_BACKEND,
        "LOCATION": _state_location("cache"),
        "TIMEOUT": env.int("STRATUS_CACHE_TIMEOUT", 300),
        "KEY_PREFIX": env.str("STRATUS_CACHE_KEY_PREFIX", default="stratus"),
        "OPTIONS": {
            "CONSISTENT_READ": env.bool("STRATUS_CACHE_CONSISTENT_READ", False),
            # Values too big for one item go to the media bucket, under a prefix that
            # provision_aws gives a lifecycle rule.
            "SPILL_BUCKET": STRATUS_MEDIA_BUCKET,
            "SPILL_PREFIX": "cache-spill/",
        },
    },
}

# -- background tasks -------------------------------------------------------------------------
# The site's own periodic work, run by the workers' scheduler (times in TIME_ZONE, UTC):
# daily cleanups, made up once after an outage ("once"), spread over the night. On DynamoDB
# the tables' TTL removes expired sessions, cache entries and results for nothing, and a
# purge would scan whole tables: those three run only on SimpleDB.
_SCHEDULES = {
    "empty-trash": {"TASK": "apps.trash.tasks.purge_trash", "CRON": "17 3 * * *",
                    "CATCH_UP": "once"},
    "clear-exports": {"TASK": "apps.exports.tasks.clear_exports", "CRON": "27 3 * * *",
                      "CATCH_UP": "once"},
    "clear-uploads": {"TASK": "apps.uploads.tasks.clear_uploads", "CRON": "37 3 * * *",
                      "CATCH_UP": "once"},
}
if not _DYNAMODB:
    _SCHEDULES |= {
        "clear-sessions": {"TASK": "storage_backends.housekeeping.clear_sessions",
                           "CRON": "47 3 * * *", "CATCH_UP": "once"},
        "prune-task-results": {"TASK": "storage_backends.housekeeping.prune_task_results",
                               "CRON": "57 3 * * *", "CATCH_UP": "once"},
        # Hourly: a missed hour is made up by the next one.
        "purge-cache": {"TASK": "storage_backends.housekeeping.purge_cache",
                        "CRON": "7 * * * *"},
    }
# django.tasks on SQS, results in the state store; `manage.py sqs_worker` runs them
# (docs/tasks.md).
TASKS = {
    "default": {
        "BACKEND": "storage_backends.tasks.SQSBackend",
        "QUEUES": STRATUS_SQS_QUEUES,
        "OPTIONS": {
            "QUEUE_PREFIX": STRATUS_SQS_QUEUE_PREFIX,
            "MAX_RECEIVE_COUNT": STRATUS_SQS_MAX_RECEIVE_COUNT,
            "VISIBILITY_TIMEOUT": env.int("STRATUS_TASK_VISIBILITY_TIMEOUT", 60, minimum=1),
            "WAIT_SECONDS": env.int("STRATUS_TASK_WAIT_SECONDS", 20, minimum=0),
            "MAX_ATTEMPTS": env.int("STRATUS_TASK_MAX_ATTEMPTS", 3, minimum=1),
            "RETRY_DELAY": env.int("STRATUS_TASK_RETRY_DELAY", 10, minimum=0),
            "RESULTS_STORE": STRATUS_STATE_STORE,
            "RESULTS_DOMAIN": _SIMPLEDB_DOMAINS["task-results"],
            "RESULTS_TABLE": STRATUS_DYNAMODB_TABLE_PREFIX + "task-results",
            "RESULT_RETENTION": env.int("STRATUS_TASK_RESULT_RETENTION", 7 * 24 * 3600,
                                        minimum=60),
            "SHUTDOWN_GRACE": env.int("STRATUS_TASK_SHUTDOWN_GRACE", 30, minimum=0),
            # Seconds an attempt may run unless its task sets its own; 0: no limit.
            "TIME_LIMIT": env.int("STRATUS_TASK_TIME_LIMIT", 900, minimum=0) or None,
            # A zip export of many large files streams them all in one attempt. Set here, not
            # in @task: the bench's baseline runs the site's tasks on Django's own backends.
            "TIME_LIMITS": {"apps.exports.tasks.build_zip": 3600},
            # Payloads over SQS's 1 MiB, and results too big for one item, go to the media
            # bucket under a prefix that provision_aws gives a lifecycle rule.
            "PAYLOAD_BUCKET": STRATUS_MEDIA_BUCKET,
            "PAYLOAD_PREFIX": "task-payloads/",
            # Workers' reports (docs/tasks.md, "Metrics"): every METRICS_INTERVAL seconds to
            # <domain or table prefix>task-metrics; with METRICS_EMF also as CloudWatch
            # embedded metric format log lines (the production JSON logs carry them).
            "METRICS_INTERVAL": env.int("STRATUS_TASK_METRICS_INTERVAL", 15, minimum=0),
            "METRICS_DOMAIN": _SIMPLEDB_DOMAINS["task-metrics"],
            "METRICS_TABLE": STRATUS_DYNAMODB_TABLE_PREFIX + "task-metrics",
            "METRICS_EMF": env.bool("STRATUS_TASK_METRICS_EMF", PRODUCTION),
            # Periodic tasks (docs/tasks.md, "Periodic tasks"): every worker runs the
            # scheduler; the claims of their slots are kept in the state store.
            "SCHEDULES": _SCHEDULES if env.bool("STRATUS_TASK_SCHEDULES", True) else {},
            "SCHEDULES_DOMAIN": _SIMPLEDB_DOMAINS["task-schedules"],
            "SCHEDULES_TABLE": STRATUS_DYNAMODB_TABLE_PREFIX + "task-schedules",
        },
    },
}
# The /metrics endpoint (Prometheus's text format) answers only requests bearing this token
# (`Authorization: Bearer ...`); without one it is off (404).
STRATUS_METRICS_TOKEN = env.str("STRATUS_METRICS_TOKEN", default="")

# Worker side of an Auto Scaling terminate lifecycle hook (docs/tasks.md, "The worker"):
# with a hook name, `sqs_worker` polls the instance metadata every POLL seconds and, once
# its instance is terminating, drains as on SIGTERM and completes the lifecycle action.
# The group defaults to the instance's own (autoscaling:DescribeAutoScalingInstances).
STRATUS_WORKER_LIFECYCLE_HOOK = env.str("STRATUS_WORKER_LIFECYCLE_HOOK", default="")
STRATUS_WORKER_AUTOSCALING_GROUP = env.str("STRATUS_WORKER_AUTOSCALING_GROUP", default="")
STRATUS_WORKER_LIFECYCLE_POLL = env.float("STRATUS_WORKER_LIFECYCLE_POLL", 5.0, minimum=0.1)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "library:list"
LOGOUT_REDIRECT_URL = "login"

# -- email (password resets) ----------------------------------------------------------------
# docs/email.md. Production sends through Amazon SES v2 (django-ses, on the client from
# storage_backends/aws.py); locally Django's console backend prints each mail in the
# `make run` log; tests use Django's in-memory outbox (Django's test set-up sets it).
MAILERS = {"default": {"BACKEND": env.str(
    "DJANGO_EMAIL_BACKEND", local_default="django.core.mail.backends.console.EmailBackend",
    default="storage_backends.ses.SESBackend")}}
# The sender of every mail: an address (or domain) verified in SES; by default no-reply at
# the site's own host name.
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL",
                             local_default="Stratus <stratus@localhost>",
                             default=f"Stratus <no-reply@{urlsplit(SITE_URL).hostname}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# SES's region when it differs from AWS_REGION (SES is not offered in every region).
SES_REGION = env.str("STRATUS_SES_REGION", default="")
# django-ses: SES v2's SendEmail; no per-process throttle (botocore retries SES's own).
USE_SES_V2 = True
AWS_SES_AUTO_THROTTLE = None
# How long a reset link works, in seconds (Django's default: 3 days).
PASSWORD_RESET_TIMEOUT = env.int("DJANGO_PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600, minimum=60)

# -- log-in throttling (django-axes) --------------------------------------------------------
# docs/login-throttling.md. Every authenticate() (the site's log-in, the admin's, any
# other) is checked first by axes's backend; apps/accounts/lockout.py counts failures per
# (username, address) pair and, at a much higher limit, per address, in a cache alias of
# their own that reads consistently and raises on errors: a lock-out check that cannot read
# is the 503 page, never a log-in. The alias has a domain (or table) of its own, so neither
# clearing nor culling the default cache (MAX_ENTRIES culls a whole domain) lifts lock-outs.
STRATUS_LOGIN_ATTEMPTS = env.int("STRATUS_LOGIN_ATTEMPTS", 5, minimum=1)
STRATUS_LOGIN_ADDRESS_ATTEMPTS = env.int("STRATUS_LOGIN_ADDRESS_ATTEMPTS", 100, minimum=1)
STRATUS_LOGIN_WINDOW = env.int("STRATUS_LOGIN_WINDOW", 900, minimum=1)
# Proxies in front of the node that each append the address they received from to
# X-Forwarded-For. Behind the ALB: 1 (the node's own nginx is not counted: its entry goes
# back to REMOTE_ADDR, apps.ops.forwarded). Required in production: with 0 every client
# would count as the proxy's address.
STRATUS_TRUSTED_PROXY_COUNT = env.int("STRATUS_TRUSTED_PROXY_COUNT", 0,
                                      required_in_production=True)
INSTALLED_APPS += ["axes"]
# Last, as axes asks: it turns a lock-out into the lock-out page on the way out.
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = [
    "apps.accounts.backends.LoginThrottleBackend",  # first: refuses before any password check
    "django.contrib.auth.backends.ModelBackend",
]
CACHES["login_failures"] = {
    "BACKEND": _CACHE_BACKEND,
    "LOCATION": _state_location("login-failures"),
    "KEY_PREFIX": CACHES["default"]["KEY_PREFIX"] + "-login-failures",
    "OPTIONS": {"CONSISTENT_READ": True, "ON_ERROR": "raise"},
}
AXES_CACHE = "login_failures"
# `manage.py copy_state --cache` (docs/dynamodb.md): each alias's SimpleDB domain and
# DynamoDB table, whichever store is in use.
COPY_STATE_CACHES = {
    alias: (_SIMPLEDB_DOMAINS[name], STRATUS_DYNAMODB_TABLE_PREFIX + name)
    for alias, name in (("default", "cache"), ("login_failures", "login-failures"))
}
AXES_HANDLER = "apps.accounts.lockout.LoginFailureHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_CLIENT_IP_CALLABLE = "apps.accounts.addresses.client_ip"
AXES_LOCKOUT_CALLABLE = "apps.accounts.views.locked_out"
# A refused attempt tried no password: it is not counted and does not extend the window.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The cache handler keeps no access logs in the database: nothing to show in the admin.
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# -- content security policy ----------------------------------------------------------------
# On every response (docs/nodes.md, "Content Security Policy"): scripts, styles, images and fonts
# only from the site itself or the static files' host, inline <script>/<style> only with the
# response's nonce (the admin's templates carry it), no inline style attributes or event
# handlers, no plugins, no framing, forms post only to the site.
_STATIC_ORIGIN = (
    [f"{urlsplit(STATIC_URL).scheme or 'https'}://{urlsplit(STATIC_URL).netloc}"]
    if urlsplit(STATIC_URL).netloc else []
)
SECURE_CSP = {
    "default-src": [CSP.NONE],
    "script-src": [CSP.SELF, CSP.NONCE, *_STATIC_ORIGIN],
    "style-src": [CSP.SELF, CSP.NONCE, *_STATIC_ORIGIN],
    "img-src": [CSP.SELF, *_STATIC_ORIGIN],
    "font-src": [CSP.SELF, *_STATIC_ORIGIN],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
}

# -- security (production) ------------------------------------------------------------------
# The load balancer terminates TLS and says so in X-Forwarded-Proto. A site whose URL is
# http:// (a trial stack with no certificate, docs/deploy.md) gets no redirect to HTTPS, no
# Secure cookies and no HSTS: there is no HTTPS to go to. `check --deploy` warns of it.
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if PRODUCTION and urlsplit(SITE_URL).scheme == "https":
    SECURE_SSL_REDIRECT = True
    # Health checks come from the load balancer over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", True)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# -- logging --------------------------------------------------------------------------------
LOG_LEVEL = env.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.ops.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["request_id"],
            "formatter": "json" if PRODUCTION else "text",
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "botocore": {"level": "WARNING"}, "boto3": {"level": "WARNING"},
        # Django's default config gives "django" its own console handler (stderr, DEBUG
        # only) and mail_admins (no ADMINS here); records also reach the root's stdout, so
        # every django.request warning printed twice. One handler: the root's.
        "django": {"handlers": [], "propagate": True},
        # The worker logs each task once as key=value (storage_backends.tasks.worker);
        # Django's own start/finish lines would double that, and Django's default config
        # prints them a second time, unformatted, on stderr in DEBUG. Failures still show.
        "django.tasks": {"level": "WARNING", "handlers": [], "propagate": True},
    },
}

env.check()
