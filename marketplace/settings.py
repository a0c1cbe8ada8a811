"""Settings for the marketplace site.

Every value comes from the environment (django-environ); `.env.example` lists them.
With DEBUG on, the defaults give a zero-setup site: a SQLite file, an embedded Celery
broker (SQLAlchemy transport on a SQLite file) and the console email backend.
With DEBUG off, secrets have no default: the process refuses to start without them.
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local, git-ignored state: SQLite files, media in development

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; real environment variables win
# Written by `make run` (DEBUG=1 and SITE_URL from PORT), so every README command works in a development
# checkout without exporting anything. .env and the real environment win over it.
environ.Env.read_env(env.path("LOCAL_ENV_FILE", default=VAR_DIR / "make-run.env"))

DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env("SECRET_KEY", default="django-insecure-development-only-key")
else:
    SECRET_KEY = env("SECRET_KEY")  # no default outside DEBUG

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "django_celery_beat",
    "anymail",
    "django_fsm",
    "taggit",
    "django_filters",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "axes",
    "simple_history",
    "marketplace",
    "contracts",
    "escrow",
    "escrow.sandbox",
    "messaging",
    "jobs",
    "feedback",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "marketplace.observability.RequestContextMiddleware",
    "csp.middleware.CSPMiddleware",
    "marketplace.middleware.PermissionsPolicyMiddleware",
    "marketplace.hygiene.InputHygieneMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # after sessions, before common: cookie, then Accept-Language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "marketplace.middleware.UserTimezoneMiddleware",
    "marketplace.middleware.UserLanguageMiddleware",  # after authentication: the user's own choice wins
    "marketplace.middleware.UserPagesStaleMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "marketplace.middleware.StaffSecondFactorMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the lockout page
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "marketplace.context_processors.site",
                "messaging.context_processors.unread_counts",
                "csp.context_processors.nonce",
            ],
        },
    },
]
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Database: PostgreSQL via DATABASE_URL in production and CI; a SQLite file otherwise.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file in development: WAL lets readers and a writer
    # work together, IMMEDIATE transactions and a timeout avoid "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Settings of each connection's session, for a web application's short queries:
    # - random_page_cost: the planner's price of a random page read, relative to a sequential one. PostgreSQL's
    #   default (4) models spinning disks; on SSDs, or with the working set in memory, its manual suggests ~1.1.
    #   With 4 it joins a user's few thousand escrow holds to their accounts by hashing every account of the
    #   platform (~50 ms at 100,000 accounts) instead of following the index (~5 ms).
    # - jit=off: a query the planner prices above jit_above_cost is compiled first; for the dashboard's totals
    #   that compilation took ~58 ms, for a query that runs in ~30 ms.
    # DATABASE_SESSION_SETTINGS="" leaves the server's own settings.
    session_settings = env.str("DATABASE_SESSION_SETTINGS", default="random_page_cost=1.1 jit=off").split()
    if session_settings:
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = " ".join(
            [options.get("options", ""), *(f"-c {item}" for item in session_settings)]
        ).strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache (marketplace/caching.py): what is the same for everyone who gets it, e.g. anonymous directory pages.
# Per-process memory by default; in production a shared Redis (e.g. CACHE_URL=rediscache://host:6379/2).
CACHES = {
    "default": env.cache_url("CACHE_URL", default="locmemcache://"),
    # Rendered thread messages (messaging_tags.messages_html): many entries that are only ever rebuilt, in a cache
    # of their own so their volume never evicts the default cache's counts and rate limits. In production a
    # Redis database with an LRU eviction policy, e.g. FRAGMENT_CACHE_URL=rediscache://host:6379/3.
    "fragments": env.cache_url("FRAGMENT_CACHE_URL", default="locmemcache://fragments?MAX_ENTRIES=5000"),
    # A user's own pages (dashboard, contract, milestone, wallet, inbox, thread), kept rendered until something they
    # see changes, and never past the current PAGE_CACHE_SECONDS-long window (0: not cached; marketplace/caching.py).
    # Up to ~170 kB each: a few hundred per process by default; in production Redis, e.g. rediscache://host:6379/4.
    "pages": env.cache_url("PAGE_CACHE_URL", default="locmemcache://pages?MAX_ENTRIES=300"),
}
# With several processes (gunicorn's workers, Celery's), the default cache (the pages' stamps) and the pages cache
# must be shared (Redis): a change made in one process drops the stamp the others read.
PAGE_CACHE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=60)
PAGE_CACHE_VERIFY = False  # the test settings render every cached page again and compare
# Cached pages and counts are dropped when the change commits (never under its row locks). The test settings drop
# them at once instead: a test's transaction never commits.
CACHE_DROP_AT_ONCE = False

AUTH_USER_MODEL = "marketplace.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"

# Languages: English (the source strings) and German. A logged-in user's choice (User.language) wins
# (marketplace.middleware.UserLanguageMiddleware); visitors choose with the switcher in the navbar (Django's
# set_language: a cookie), else their browser's Accept-Language (LocaleMiddleware). Translations live in
# locale/<lang>/LC_MESSAGES/django.po (compiled .mo committed); see the README ("Languages").
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"  # stored and computed in UTC; shown in each user's own timezone
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")  # never served directly
# Uploads: the local disk by default; object storage (any S3 API: AWS, MinIO, Ceph, ...) through
# django-storages when AWS_STORAGE_BUCKET_NAME is set, so every web host sees every file. Files are private
# (no public ACL, no public URL): downloads go through the permission check and stream from the bucket.
# Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the host's role), read by boto3.
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default=None)  # e.g. http://minio:9000; AWS when unset
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", default=None)
AWS_LOCATION = env("AWS_LOCATION", default="")  # a key prefix inside the bucket
AWS_DEFAULT_ACL = None  # the bucket's own (private) policy
AWS_QUERYSTRING_AUTH = True  # any URL the storage makes is signed and short-lived
AWS_QUERYSTRING_EXPIRE = 60
AWS_S3_FILE_OVERWRITE = False
AWS_S3_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # a file read through django-storages spills to disk past 5 MB
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage"
        if AWS_STORAGE_BUCKET_NAME
        else "django.core.files.storage.FileSystemStorage"
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Email. Everything the site sends goes through the outbox (messaging/outbox.py): a row written in the
# action's transaction, delivered after commit by a retrying task, caught up by a beat sweep.
# Delivery: console in development, SMTP from EMAIL_URL (smtp+tls://user:pw@host:587), or an ESP through
# django-anymail (EMAIL_DELIVERY_BACKEND=anymail.backends.postmark.EmailBackend, and every ANYMAIL_*
# variable, e.g. ANYMAIL_POSTMARK_SERVER_TOKEN, becomes a key of the ANYMAIL setting without its prefix).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
EMAIL_DELIVERY_BACKEND = env("EMAIL_DELIVERY_BACKEND", default=EMAIL_CONFIG["EMAIL_BACKEND"])
EMAIL_BACKEND = "messaging.outbox.OutboxEmailBackend"  # Django's and libraries' emails queue too
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
ANYMAIL = {key.removeprefix("ANYMAIL_"): value for key, value in env.ENVIRON.items() if key.startswith("ANYMAIL_")}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Milestone <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)  # then "failed", shown in admin
OUTBOX_RETRY_BASE_SECONDS = env.int("OUTBOX_RETRY_BASE_SECONDS", default=30)  # 30 s, 1 min, 2 min, 4 min, ...
OUTBOX_RETRY_MAX_SECONDS = env.int("OUTBOX_RETRY_MAX_SECONDS", default=3600)
OUTBOX_STUCK_SECONDS = env.int("OUTBOX_STUCK_SECONDS", default=60)  # the sweep's grace before it sends for a task

# Celery: Redis when CELERY_BROKER_URL or REDIS_URL is set; an embedded broker otherwise.
# (kombu's filesystem transport crashed a worker with a JSONDecodeError race next to beat;
# the SQLAlchemy transport on a SQLite file runs worker and beat cleanly.)
CELERY_BROKER_URL = env(
    "CELERY_BROKER_URL", default=env("REDIS_URL", default=f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}")
)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 3, "socket_timeout": 5}
# Publishing happens after commit (marketplace/dispatch.py): give up quickly when the broker is down,
# the sweeps run the work once it is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_TASK_ACKS_LATE = True  # a task lost with its worker is redelivered; tasks are idempotent
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Security. Production values are the defaults whenever DEBUG is off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]  # load balancers probe over plain HTTP
X_FRAME_OPTIONS = "DENY"

# Observability (marketplace/observability.py): JSON logs with request, user and task ids; Sentry when
# SENTRY_DSN is set; Prometheus at /metrics for whoever has METRICS_TOKEN.
LOG_FORMAT = env("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "marketplace.observability.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s %(task_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(task_id)s] %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # workers log through LOGGING too (JSON, with the task id)
SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        release=env("RELEASE", default=None),
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=True)],
        send_default_pii=False,  # user ids, not emails or IP addresses
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Readiness (/readyz): a worker must answer a ping within this many seconds, and the release sweep's
# heartbeat (written when the task named here succeeds) must be younger than READYZ_BEAT_MAX_AGE.
READYZ_WORKER_TIMEOUT = env.float("READYZ_WORKER_TIMEOUT", default=2.0)
READYZ_BEAT_MAX_AGE = env.int("READYZ_BEAT_MAX_AGE", default=90)  # the sweep runs every 60 s
HEARTBEAT_TASKS = {"contracts.tasks.release_overdue_milestones": "release-sweep"}

# Product rules (README "What you can do"). Numbers are settings with these defaults. Money is Decimal, never float.
SITE_NAME = env("SITE_NAME", default="Milestone")
# The version of the terms of service (templates/pages/terms.html) users accept at sign-up; recorded on the user.
TERMS_VERSION = env("TERMS_VERSION", default="2026-11-26")
REVIEW_PERIOD = timedelta(days=env.int("REVIEW_PERIOD_DAYS", default=14))
DISPUTE_RESPONSE_PERIOD = timedelta(days=env.int("DISPUTE_RESPONSE_DAYS", default=7))
# A withdrawn dispute gives the review period back with the time it had left, but never less than this.
DISPUTE_MIN_REVIEW_LEFT = timedelta(hours=24)
# Staff aim to decide a dispute within this time of its opening (the queue marks older ones).
DISPUTE_STAFF_SLA = timedelta(days=env.int("DISPUTE_STAFF_SLA_DAYS", default=5))
# How many chains of automatic-release batches a backlog is spread over (contracts.tasks); at least the
# number of Celery worker processes, so each can take batches.
RELEASE_SWEEP_CHAINS = env.int("RELEASE_SWEEP_CHAINS", default=4)
# Milestones released per batch (one transaction, one commit): larger batches spend less per release on
# the commit and the batch's fixed statements; a client approving a milestone of the batch waits for its
# commit (~0.4 s alone at 500 on 2 cores, ~0.6 s with two workers busy). `make bench` measures the sweep.
RELEASE_SWEEP_BATCH = env.int("RELEASE_SWEEP_BATCH", default=500)
# The fan-out after an action (notifications, their emails, transfers to payout accounts): on its own queue
# when CELERY_NOTIFICATIONS_QUEUE is set, served by workers started with `-Q <that queue>`, so a backlog of
# emails never sits in front of the release sweep's batches. Empty (default): the one default queue.
CELERY_NOTIFICATIONS_QUEUE = env("CELERY_NOTIFICATIONS_QUEUE", default="")
FAN_OUT_TASKS = (
    "contracts.tasks.notify_events",
    "messaging.tasks.deliver_email",
    "messaging.tasks.deliver_emails",
    "escrow.tasks.transfers_send",
    "escrow.tasks.transfers_send_many",
)
if CELERY_NOTIFICATIONS_QUEUE:
    CELERY_TASK_ROUTES = {name: {"queue": CELERY_NOTIFICATIONS_QUEUE} for name in FAN_OUT_TASKS}
CURRENCY = env("CURRENCY", default="USD")
PLATFORM_FEE_PERCENT = Decimal(env("PLATFORM_FEE_PERCENT", default="10.00"))
MILESTONE_MIN_AMOUNT = Decimal(env("MILESTONE_MIN_AMOUNT", default="5.00"))
OFFER_MAX_MILESTONES = env.int("OFFER_MAX_MILESTONES", default=50)
OFFER_MAX_TOTAL = Decimal(env("OFFER_MAX_TOTAL", default="1000000.00"))
# The payment provider (escrow/providers): "sandbox" (its own hosted pages under /sandbox-pay/, default)
# or "stripe" (Checkout, refunds, Connect Express accounts for payees; keys from the environment).
PAYMENT_PROVIDER = env("PAYMENT_PROVIDER", default="sandbox")
SANDBOX_WEBHOOK_SECRET = env("SANDBOX_WEBHOOK_SECRET", default="whsec_sandbox_" + SECRET_KEY[:24])
SANDBOX_WEBHOOK_URL = env("SANDBOX_WEBHOOK_URL", default="")  # empty: handed to the receiver in-process
SANDBOX_LATE_SECONDS = env.int("SANDBOX_LATE_SECONDS", default=5)  # the late-confirmation test card
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")  # tests point it at recorded responses
# Escrow tells its caller when a payment for a reference succeeded: {reference prefix: "dotted.path(reference, actor)"}.
ESCROW_PAYMENT_CALLBACKS = {"milestone:": "contracts.services.money.milestone_payment_confirmed"}
# What a hold reference stands for in the wallet (the contract and milestone, linked): escrow asks the owner app.
ESCROW_REFERENCE_LINKS = {"milestone:": "contracts.selectors.wallet_reference_links"}
ESCROW_AUDIT_CHECKS = ["contracts.audit.milestone_checks"]  # milestone-level ledger invariants

# After a contract (feedback/, contracts/services/quiet.py).
FEEDBACK_WINDOW = timedelta(days=env.int("FEEDBACK_WINDOW_DAYS", default=14))  # feedback after a contract ends
QUIET_CONTRACT_ASK_AFTER = timedelta(days=env.int("QUIET_CONTRACT_ASK_DAYS", default=30))  # ask both to end it
QUIET_CONTRACT_END_AFTER = timedelta(days=env.int("QUIET_CONTRACT_END_DAYS", default=60))  # then it ends itself
OVERDUE_MILESTONE_PROMPT_AFTER = timedelta(days=env.int("OVERDUE_MILESTONE_PROMPT_DAYS", default=14))

# Messaging and uploads (messaging/, marketplace/uploads.py).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")  # absolute links in emails
UPLOAD_MAX_FILE_BYTES = env.int("UPLOAD_MAX_FILE_BYTES", default=25 * 1024 * 1024)
UPLOAD_MAX_TOTAL_BYTES = env.int("UPLOAD_MAX_TOTAL_BYTES", default=100 * 1024 * 1024)
UPLOAD_MAX_FILES = env.int("UPLOAD_MAX_FILES", default=10)
MESSAGE_MAX_LENGTH = env.int("MESSAGE_MAX_LENGTH", default=10_000)
MESSAGE_RATE_LIMIT_PER_MINUTE = env.int("MESSAGE_RATE_LIMIT_PER_MINUTE", default=20)
MESSAGE_EMAIL_QUIET_SECONDS = env.int("MESSAGE_EMAIL_QUIET_SECONDS", default=60)  # a burst makes one email
# Each user's header counts are cached this long at most (cleared by every change; 0: no cache).
MESSAGING_BADGE_CACHE_SECONDS = env.int("MESSAGING_BADGE_CACHE_SECONDS", default=60)
JOBS_PROPOSALS_PER_DAY = env.int("JOBS_PROPOSALS_PER_DAY", default=30)  # per freelancer, in any 24 hours
JOBS_EXPIRE_DAYS = env.int("JOBS_EXPIRE_DAYS", default=30)  # an open job without a hire closes after this
# Called inside offer_accept with the offer and its new contract (contracts never imports these apps).
CONTRACTS_OFFER_ACCEPTED_HOOKS = ["jobs.services.offer_accepted"]

# Accounts (django-allauth; marketplace/accounts.py): email login, mandatory verification, email change with
# confirmation, security notifications, optional MFA (required for staff to enter the admin), sessions list.
AUTHENTICATION_BACKENDS = [
    "marketplace.accounts.LockoutBackend",  # first: refuses a locked-out login before any password is checked
    "allauth.account.auth_backends.AuthenticationBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ACCOUNT_ADAPTER = "marketplace.accounts.AccountAdapter"
ACCOUNT_FORMS = {"signup": "marketplace.forms.SignUpForm", "login": "marketplace.forms.LogInForm"}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"  # no login, and so no offer, funding or payout, before it
ACCOUNT_CONFIRM_EMAIL_ON_GET = False  # a link scanner opening the email must not confirm it
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CHANGE_EMAIL = True  # the new address replaces the old one only once confirmed
ACCOUNT_EMAIL_NOTIFICATIONS = True  # security emails: password, email and MFA changes
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False  # a reset for an unknown address sends nothing (and says nothing)
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
# allauth's rate limits count in the cache (CACHES above): several web processes need CACHE_URL on Redis.
ACCOUNT_RATE_LIMITS = {
    # Per-account lockout after failed logins is django-axes' (below); this only slows a single address down.
    "login_failed": env("RATE_LIMIT_LOGIN_FAILED", default="30/m/ip"),
    "login": env("RATE_LIMIT_LOGIN", default="30/m/ip"),
    "signup": env("RATE_LIMIT_SIGNUP", default="5/10m/ip"),
    "reset_password": env("RATE_LIMIT_RESET_PASSWORD", default="5/10m/ip,3/10m/key"),
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "confirm_email": "1/3m/key",
    "reauthenticate": "10/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = SITE_NAME
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG  # WebAuthn needs HTTPS except on localhost in development
USERSESSIONS_TRACK_ACTIVITY = False  # True costs a write on every request; sessions are recorded at login

# Login lockout (django-axes): AXES_FAILURE_LIMIT wrong passwords for one address from one IP lock that pair for
# AXES_COOLOFF_MINUTES; staff unlock early in admin (Access attempts: delete, or the "Unlock" action).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "marketplace.accounts.axes_username"
AXES_LOCKOUT_CALLABLE = "marketplace.accounts.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the page promises a fixed lock time: keep to it
AXES_SENSITIVE_PARAMETERS = ["password"]

# Content-Security-Policy (django-csp): scripts only from this site or with the per-request nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],  # style attributes (Bootstrap, htmx); scripts stay strict
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
