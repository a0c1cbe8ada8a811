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
    "messaging",
    "jobs",
    "feedback",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "marketplace.middleware.PermissionsPolicyMiddleware",
    "marketplace.hygiene.InputHygieneMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "marketplace.middleware.UserTimezoneMiddleware",
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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache (marketplace/caching.py): what is the same for everyone who gets it, e.g. anonymous directory pages.
# Per-process memory by default; in production a shared Redis (e.g. CACHE_URL=rediscache://host:6379/2).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

AUTH_USER_MODEL = "marketplace.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # stored and computed in UTC; shown in each user's own timezone
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")  # never served directly
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Email: console in development, SMTP/ESP in production (EMAIL_URL, e.g. smtp+tls://user:pw@host:587).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Milestone <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

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
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Product rules (README "What you can do"). Numbers are settings with these defaults. Money is Decimal, never float.
SITE_NAME = env("SITE_NAME", default="Milestone")
REVIEW_PERIOD = timedelta(days=env.int("REVIEW_PERIOD_DAYS", default=14))
DISPUTE_RESPONSE_PERIOD = timedelta(days=env.int("DISPUTE_RESPONSE_DAYS", default=7))
# A withdrawn dispute gives the review period back with the time it had left, but never less than this.
DISPUTE_MIN_REVIEW_LEFT = timedelta(hours=24)
# Staff aim to decide a dispute within this time of its opening (the queue marks older ones).
DISPUTE_STAFF_SLA = timedelta(days=env.int("DISPUTE_STAFF_SLA_DAYS", default=5))
# How many chains of automatic-release batches a backlog is spread over (contracts.tasks); at least the
# number of Celery worker processes, so each can take batches.
RELEASE_SWEEP_CHAINS = env.int("RELEASE_SWEEP_CHAINS", default=4)
CURRENCY = env("CURRENCY", default="USD")
PLATFORM_FEE_PERCENT = Decimal(env("PLATFORM_FEE_PERCENT", default="10.00"))
MILESTONE_MIN_AMOUNT = Decimal(env("MILESTONE_MIN_AMOUNT", default="5.00"))
OFFER_MAX_MILESTONES = env.int("OFFER_MAX_MILESTONES", default=50)
OFFER_MAX_TOTAL = Decimal(env("OFFER_MAX_TOTAL", default="1000000.00"))
PAYMENT_GATEWAY = env("PAYMENT_GATEWAY", default="escrow.gateways.SandboxGateway")
PAYOUT_METHOD = env("PAYOUT_METHOD", default="escrow.gateways.SandboxPayouts")
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
