"""Rubberduck settings: everything comes from the environment (see .env.example)."""

import os
from pathlib import Path

import environ

from accounts.conf import cache_settings, email_settings, socialaccount_providers
from restapi.ids import ID_SCHEMA
from rubberduck_site.data_dir import default_data_dir, stored_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

VERSION = "0.1.0"
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# A source checkout keeps its data beside the code (./data); an installed copy in the user's data directory (XDG).
XDG_DATA_HOME = Path(env("XDG_DATA_HOME", default="") or Path.home() / ".local" / "share")  # set but empty: unset
DATA_DIR = Path(env("RUBBERDUCK_DATA_DIR", default=str(default_data_dir(BASE_DIR, XDG_DATA_HOME)))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
# Unset: a key made on first start and kept in the data directory, so sessions outlive restarts.
SECRET_KEY = env("SECRET_KEY", default="") or stored_secret_key(DATA_DIR)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.headless",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "channels",
    "accounts",
    "proxies",
    "logs",
    "metrics",
    "rubberduck_site",  # the composition: `serve` and `runproxies`
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "rubberduck_site.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.ratelimits.AuthRateLimitMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = env.int("ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS", default=3)
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True  # only in the browser session that signed up (allauth checks)
ACCOUNT_PREVENT_ENUMERATION = True  # sign-up and reset answer alike whether or not the email is known
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"  # sign-ups follow SiteSettings.signup_open; first is admin
SOCIALACCOUNT_ADAPTER = "accounts.adapter.SocialAccountAdapter"
HEADLESS_ADAPTER = "accounts.adapter.HeadlessAdapter"  # tells the sign-up screens where emails go
# allauth's own ACCOUNT_RATE_LIMITS keep their defaults under our django-ratelimit layer: see accounts/ratelimits.py.
RUBBERDUCK_RATE_LIMITS = {}  # per action overrides of accounts.ratelimits.DEFAULT_RATES, e.g. {"login": {"ip": "20/m"}}
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
HEADLESS_ONLY = False  # the regular allauth views stay, e.g. as the OAuth callback endpoints
# Links in emails go to the SPA, which then calls the headless API with the key.
HEADLESS_FRONTEND_URLS = {
    "account_confirm_email": "/account/verify-email/{key}",
    "account_reset_password": "/account/password/reset",
    "account_reset_password_from_key": "/account/password/reset/key/{key}",
    "account_signup": "/account/signup",
    "socialaccount_login_error": "/account/provider/callback",
}
# Google/GitHub: each gets an app (and a button) only when its client id and secret are both set.
SOCIALACCOUNT_PROVIDERS = socialaccount_providers(
    google=(env("GOOGLE_CLIENT_ID", default=""), env("GOOGLE_CLIENT_SECRET", default="")),
    github=(env("GITHUB_CLIENT_ID", default=""), env("GITHUB_CLIENT_SECRET", default="")),
)
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True  # a provider-verified email logs in to the account that owns it...
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True  # ...and links the social account to it
SOCIALACCOUNT_LOGIN_ON_GET = False  # the SPA starts logins with a CSRF-protected form POST

ROOT_URLCONF = "rubberduck_site.urls"
ASGI_APPLICATION = "rubberduck_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "rubberduck_site" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite is the embedded default. WAL + synchronous=NORMAL keep commits cheap; IMMEDIATE
# transactions and a busy timeout keep concurrent writers from failing with "database is locked".
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'rubberduck.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Keep each thread's connection: the data plane's db and log-writer threads would otherwise reopen the
    # file (and re-run the PRAGMAs) for every cache store and every flush (D21).
    DATABASES["default"]["CONN_MAX_AGE"] = None
    # A file (not :memory:) so proxy threads share it; one per test run so parallel runs never collide
    # (pid plus a random part: pids wrap quickly here, and a reused name would meet a stale -wal file).
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}-{os.urandom(3).hex()}.sqlite3")}
else:
    # API calls run on threads that come and go with the load (rubberduck_site/web_threads.py), and Django's
    # connections are per thread: a pool hands out warm connections to whichever thread asks (D109). The pool
    # checks a connection before handing it out (a restarted server's are dead) and waits at most
    # RUBBERDUCK_DB_POOL_TIMEOUT seconds for one, so a database that is down fails fast (/healthz says 503).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env.int("RUBBERDUCK_DB_POOL_SIZE", default=16),
        "timeout": env.float("RUBBERDUCK_DB_POOL_TIMEOUT", default=5.0),
    }

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
FRONTEND_DIST = Path(__file__).resolve().parent / "ui"  # the built UI (`npm run build`), shipped in the wheel
STATICFILES_DIRS = [FRONTEND_DIST] if FRONTEND_DIST.exists() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "rubberduck_site.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Email: SendGrid through anymail when SENDGRID_API_KEY is set, the console otherwise (accounts/conf.py).
globals().update(
    email_settings(
        sendgrid_api_key=env("SENDGRID_API_KEY", default=""), from_email=env("DEFAULT_FROM_EMAIL", default="")
    )
)
# Rate-limit counters (and allauth's) live here; see accounts/conf.py on why LocMem is enough for `make run`.
CACHES = cache_settings(REDIS_URL)

# `serve`: the web UI, the REST API and WebSockets.
RUBBERDUCK_HOST = env("RUBBERDUCK_HOST", default="127.0.0.1")
RUBBERDUCK_PORT = env.int("RUBBERDUCK_PORT", default=8000)

# The data plane.
RUBBERDUCK_PROXY_HOST = env("RUBBERDUCK_PROXY_HOST", default="127.0.0.1")
RUBBERDUCK_PORT_RANGE = tuple(env.list("RUBBERDUCK_PORT_RANGE", cast=int, default=[9000, 9999]))
RUBBERDUCK_GRACEFUL_STOP_SECONDS = env.float("RUBBERDUCK_GRACEFUL_STOP_SECONDS", default=30.0)
RUBBERDUCK_CACHE_MEMORY_BYTES = env.int("RUBBERDUCK_CACHE_MEMORY_BYTES", default=64 * 1024 * 1024)
RUBBERDUCK_UPSTREAM_TIMEOUT = env.float("RUBBERDUCK_UPSTREAM_TIMEOUT", default=600.0)
# What a proxy's port takes from its clients (proxies/limits.py; D50-D54).
RUBBERDUCK_MAX_REQUEST_BYTES = env.int("RUBBERDUCK_MAX_REQUEST_BYTES", default=32 * 1024 * 1024)  # a body read whole
RUBBERDUCK_MAX_HEADER_BYTES = env.int("RUBBERDUCK_MAX_HEADER_BYTES", default=64 * 1024)  # request line and headers
RUBBERDUCK_KEEP_ALIVE_SECONDS = env.float("RUBBERDUCK_KEEP_ALIVE_SECONDS", default=75.0)  # an idle connection
RUBBERDUCK_CLIENT_TIMEOUT_SECONDS = env.float("RUBBERDUCK_CLIENT_TIMEOUT_SECONDS", default=60.0)  # a request's arrival
# Answers larger than this are forwarded as they arrive, never held whole nor cached.
RUBBERDUCK_CACHE_MAX_ENTRY_BYTES = env.int("RUBBERDUCK_CACHE_MAX_ENTRY_BYTES", default=16 * 1024 * 1024)
# Every user's proxies may forward to loopback/private/link-local addresses (staff's always may; also a site setting).
RUBBERDUCK_ALLOW_PRIVATE_UPSTREAMS = env.bool("RUBBERDUCK_ALLOW_PRIVATE_UPSTREAMS", default=False)
RUBBERDUCK_LOGGING = env.bool("RUBBERDUCK_LOGGING", default=True)
# Log entries that may wait in memory for the database (locked, restarting, full); more are dropped and counted (D70).
RUBBERDUCK_LOG_BUFFER_RECORDS = env.int("RUBBERDUCK_LOG_BUFFER_RECORDS", default=100_000)
RUBBERDUCK_RECONCILE_SECONDS = env.float("RUBBERDUCK_RECONCILE_SECONDS", default=0.5)
RUBBERDUCK_LEASE_SECONDS = env.float("RUBBERDUCK_LEASE_SECONDS", default=15.0)  # a runner's hold on its proxies
# How long a write waits for the running proxy to apply it before it answers 202 (pending).
RUBBERDUCK_APPLY_WAIT_SECONDS = env.float("RUBBERDUCK_APPLY_WAIT_SECONDS", default=5.0)
# Interpreter settings of a process running proxies (proxies/interpreter.py; D3, D8).
RUBBERDUCK_SWITCH_INTERVAL = env.float("RUBBERDUCK_SWITCH_INTERVAL", default=0.003)  # GIL hand-over, loops' turn (D8)
RUBBERDUCK_FULL_GC_SECONDS = env.float("RUBBERDUCK_FULL_GC_SECONDS", default=60.0)  # 0: CPython's own policy (D3)
# `serve`'s web threads (UI, API, exports, purges) run this much nicer than its proxies' loops; 0: the same (D104).
RUBBERDUCK_WEB_NICE = env.int("RUBBERDUCK_WEB_NICE", default=5)
# Logs and metrics (the site settings row, when saved, overrides the retentions; 0 keeps forever).
RUBBERDUCK_LOG_RETENTION_DAYS = env.int("RUBBERDUCK_LOG_RETENTION_DAYS", default=30)
RUBBERDUCK_METRICS_RETENTION_DAYS = {
    "1m": env.int("RUBBERDUCK_METRICS_1M_RETENTION_DAYS", default=2),
    "15m": env.int("RUBBERDUCK_METRICS_15M_RETENTION_DAYS", default=30),
    "1h": env.int("RUBBERDUCK_METRICS_1H_RETENTION_DAYS", default=365),
}
RUBBERDUCK_RETENTION_SECONDS = env.float("RUBBERDUCK_RETENTION_SECONDS", default=600.0)  # how often it is applied
RUBBERDUCK_METRICS_SAMPLE_SECONDS = env.float("RUBBERDUCK_METRICS_SAMPLE_SECONDS", default=1.0)  # gauges
RUBBERDUCK_METRICS_FOLD_SECONDS = env.float("RUBBERDUCK_METRICS_FOLD_SECONDS", default=5.0)  # 1 m -> 15 m, 1 h
RUBBERDUCK_STATS_SECONDS = env.float("RUBBERDUCK_STATS_SECONDS", default=1.0)  # /ws/stats/ cadence
RUBBERDUCK_METRICS_TOKEN = env("RUBBERDUCK_METRICS_TOKEN", default="")  # /metrics bearer; unset: loopback only
# The Bedrock region when a request names none (no SigV4 scope, no upstream_url): e.g. for API keys.
RUBBERDUCK_BEDROCK_DEFAULT_REGION = env("RUBBERDUCK_BEDROCK_DEFAULT_REGION", default="us-east-1")
# Hosts besides Bedrock Runtime's own that the server may sign for with its AWS credentials (e.g. a gateway).
RUBBERDUCK_BEDROCK_SIGNING_HOSTS = env.list("RUBBERDUCK_BEDROCK_SIGNING_HOSTS", default=[])

LOG_LEVEL = env("LOG_LEVEL", default="")  # every logger's level; unset: WARNING, and INFO for Rubberduck's own
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL or "WARNING"},
    "loggers": {
        "rubberduck": {"level": LOG_LEVEL or "INFO"},
        # A line per reconnect attempt while PostgreSQL is down; /healthz and the log writer say it once.
        "psycopg.pool": {"level": LOG_LEVEL or "ERROR"},
    },
}

# Secure cookies are only sent over HTTPS, and `make run` serves plain http://127.0.0.1, where a Secure session
# cookie would make signing in impossible. So they default to off and a deployment behind TLS turns them on
# (SESSION_COOKIE_SECURE=1 CSRF_COOKIE_SECURE=1); browsers treat 127.0.0.1/localhost as a secure context anyway.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # the SPA reads the csrftoken cookie and sends it back as X-CSRFToken
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# The API describes itself: OpenAPI 3 at /api/schema/, Swagger UI at /api/docs/ with its files served by us
# (the sidecar app's static files), so the docs work offline. The docs are public; the data behind them is not.
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": "Rubberduck API",
    "DESCRIPTION": "The control plane of Rubberduck, an LLM caching and chaos proxy. See docs/api.md.",
    "VERSION": VERSION,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],  # form bodies work too, but JSON is the API
    "SERVE_AUTHENTICATION": [],  # the same schema for everyone: a stale token must not make it 401
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PATH_CONVERTER_OVERRIDES": {"id": ID_SCHEMA},
}
