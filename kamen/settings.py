"""kamen settings, driven by the environment.

With nothing set the shop runs embedded: SQLite file, Celery tasks eager in-process, e-mail to the
console, the sandbox payment provider on. DATABASE_URL and REDIS_URL switch to PostgreSQL and a real
Celery broker. KAMEN_ENV=production refuses to start without its secrets.
"""

import base64
import hashlib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# ---------------------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------------------
KAMEN_ENV = env("KAMEN_ENV", default="development")
PRODUCTION = KAMEN_ENV == "production"

if PRODUCTION:
    missing = [
        name
        for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CARD_CODE_KEYS", "CARD_CODE_FINGERPRINT_KEY")
        if not env(name, default="")
    ]
    if missing:
        raise ImproperlyConfigured(f"KAMEN_ENV=production needs these environment variables: {', '.join(missing)}")

SECRET_KEY = env("SECRET_KEY", default="django-insecure-kamen-embedded-development-key-change-me")
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base for links in e-mails and for gateways' notify URLs.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# ---------------------------------------------------------------------------------------------------
# Applications
# ---------------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "djmoney",
    "kamen",
    "accounts",
    "catalog",
    "orders",
    "payments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything reads the session, the user or a form: NUL bytes and broken UTF-8 end here.
    "kamen.middleware.MalformedInputMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "kamen.urls"
WSGI_APPLICATION = "kamen.wsgi.application"

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
                "catalog.context_processors.navigation",
            ],
        },
    },
]

# ---------------------------------------------------------------------------------------------------
# Database and cache
# ---------------------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # SQLite: wait for a writer instead of failing at once, and take the write lock up front.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # The embedded run is one process, so a process-local cache is the shared cache.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# ---------------------------------------------------------------------------------------------------
# Accounts and passwords
# ---------------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_UNIQUE_EMAIL = True
# allauth's own limits: failed logins per IP and per account, sign-ups per IP.
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "login": "30/m/ip",
    "signup": "20/h/ip",
}

# ---------------------------------------------------------------------------------------------------
# Language, time, money
# ---------------------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

CURRENCIES = ("CNY",)
DEFAULT_CURRENCY = "CNY"
CURRENCY_CHOICES = [("CNY", "CNY ¥")]

# ---------------------------------------------------------------------------------------------------
# Static and media files
# ---------------------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# ---------------------------------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------------------------------
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
if env("EMAIL_URL", default=""):
    vars().update(env.email("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="kamen <noreply@kamen.local>")


# ---------------------------------------------------------------------------------------------------
# Card codes: encrypted at rest
# ---------------------------------------------------------------------------------------------------
def _derived_key(purpose: str) -> str:
    """A stable key for the embedded run, derived from SECRET_KEY; production sets real keys."""
    return base64.urlsafe_b64encode(hashlib.sha256(f"{purpose}:{SECRET_KEY}".encode()).digest()).decode()


# Fernet keys, newest first: new codes use the first, every key still decrypts (rotation).
CARD_CODE_KEYS = env.list("CARD_CODE_KEYS", default=[_derived_key("kamen-card-code")])
# Keyed fingerprint for duplicate detection; unlike CARD_CODE_KEYS it must never change.
CARD_CODE_FINGERPRINT_KEY = env("CARD_CODE_FINGERPRINT_KEY", default=_derived_key("kamen-card-fingerprint"))

# ---------------------------------------------------------------------------------------------------
# Orders and payments
# ---------------------------------------------------------------------------------------------------
ORDER_RESERVATION_MINUTES = env.int("ORDER_RESERVATION_MINUTES", default=15)
# Paid orders still undelivered after this long are re-enqueued by the sweeper.
DELIVERY_SWEEP_AFTER = timedelta(seconds=env.int("DELIVERY_SWEEP_AFTER_SECONDS", default=60))
ORDER_LOOKUP_RATE = env("ORDER_LOOKUP_RATE", default="10/m")

SANDBOX_PAYMENTS_ENABLED = env.bool("SANDBOX_PAYMENTS_ENABLED", default=not PRODUCTION) and not PRODUCTION
# The sandbox gateway signs its notifications with this key, as a real gateway signs with its own.
SANDBOX_SIGNING_KEY = env("SANDBOX_SIGNING_KEY", default=_derived_key("kamen-sandbox-gateway"))
# Where the sandbox gateway posts its notification; empty means this site's own notify URL.
SANDBOX_NOTIFY_URL = env("SANDBOX_NOTIFY_URL", default="")


def _pem(name: str) -> str:
    """A PEM key from NAME, or from the file named by NAME_FILE (keys are best kept out of the environment)."""
    path = env(f"{name}_FILE", default="")
    return Path(path).read_text() if path else env(name, default="").replace("\\n", "\n")


# 支付宝: off until ALIPAY_ENABLED; a half configuration is reported by `manage.py check` at start.
ALIPAY_ENABLED = env.bool("ALIPAY_ENABLED", default=False)
ALIPAY_APP_ID = env("ALIPAY_APP_ID", default="")
ALIPAY_SELLER_ID = env("ALIPAY_SELLER_ID", default="")
ALIPAY_APP_PRIVATE_KEY = _pem("ALIPAY_APP_PRIVATE_KEY")
ALIPAY_PUBLIC_KEY = _pem("ALIPAY_PUBLIC_KEY")
ALIPAY_SERVER_URL = env("ALIPAY_SERVER_URL", default="https://openapi.alipay.com/gateway.do")

# 微信支付 APIv3: public-key mode (WECHATPAY_PUBLIC_KEY + _ID, newer merchants) or platform-certificate
# mode (WECHATPAY_CERT_DIR holding the platform certificates). Off until WECHATPAY_ENABLED.
WECHATPAY_ENABLED = env.bool("WECHATPAY_ENABLED", default=False)
WECHATPAY_MCHID = env("WECHATPAY_MCHID", default="")
WECHATPAY_APPID = env("WECHATPAY_APPID", default="")
WECHATPAY_APIV3_KEY = env("WECHATPAY_APIV3_KEY", default="")
WECHATPAY_CERT_SERIAL_NO = env("WECHATPAY_CERT_SERIAL_NO", default="")  # our merchant API certificate
WECHATPAY_PRIVATE_KEY = _pem("WECHATPAY_PRIVATE_KEY")  # PKCS#8 (BEGIN PRIVATE KEY)
WECHATPAY_PUBLIC_KEY = _pem("WECHATPAY_PUBLIC_KEY")
WECHATPAY_PUBLIC_KEY_ID = env("WECHATPAY_PUBLIC_KEY_ID", default="")
WECHATPAY_CERT_DIR = env("WECHATPAY_CERT_DIR", default="")
# H5 payment (phone browsers outside WeChat) needs its own approval from WeChat Pay.
WECHATPAY_H5_ENABLED = env.bool("WECHATPAY_H5_ENABLED", default=False)

PAYMENT_PROVIDERS = [
    *(["payments.providers.sandbox.SandboxProvider"] if SANDBOX_PAYMENTS_ENABLED else []),
    *(["payments.providers.alipay.AlipayProvider"] if ALIPAY_ENABLED else []),
    *(["payments.providers.wechat.WeChatPayProvider"] if WECHATPAY_ENABLED else []),
    "payments.providers.balance.BalanceProvider",
]
# Notifications older than this are refused as stale.
PAYMENT_NOTIFICATION_MAX_AGE = timedelta(minutes=5)
# Gateways' notifications are a few KB; a larger body is refused before it is read.
PAYMENT_NOTIFICATION_MAX_BYTES = env.int("PAYMENT_NOTIFICATION_MAX_BYTES", default=32 * 1024)
# Rejected notifications stored per source address; past this they are answered, not stored.
PAYMENT_NOTIFICATION_REJECTED_RATE = env("PAYMENT_NOTIFICATION_REJECTED_RATE", default="30/m")
# Lost notifications: pending gateway payments are queried from this long after they start until
# this long after they expire; an expired trade is closed at the gateway in the same pass.
PAYMENT_QUERY_AFTER = timedelta(seconds=env.int("PAYMENT_QUERY_AFTER_SECONDS", default=120))
PAYMENT_QUERY_UNTIL_AFTER_EXPIRY = timedelta(minutes=env.int("PAYMENT_QUERY_UNTIL_AFTER_EXPIRY_MINUTES", default=30))
# A wallet top-up is open for payment this long.
TOPUP_MINUTES = env.int("TOPUP_MINUTES", default=15)
TOPUP_MIN = Decimal(env("TOPUP_MIN", default="1.00"))
TOPUP_MAX = Decimal(env("TOPUP_MAX", default="5000.00"))

# ---------------------------------------------------------------------------------------------------
# Celery
# ---------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = env.bool("CELERY_TASK_EAGER_PROPAGATES", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "orders.tasks.deliver_order_task": {"queue": "delivery"},
    "orders.tasks.send_*": {"queue": "mail"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "expire-unpaid-orders": {"task": "orders.tasks.expire_unpaid_orders_task", "schedule": 30.0},
    "sweep-undelivered-orders": {"task": "orders.tasks.sweep_undelivered_orders_task", "schedule": 30.0},
    "reconcile-payments": {"task": "payments.tasks.reconcile_payments_task", "schedule": 60.0},
    "sync-refunds": {"task": "payments.tasks.sync_processing_refunds_task", "schedule": 300.0},
}

# ---------------------------------------------------------------------------------------------------
# Security
# ---------------------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
RATELIMIT_VIEW = "kamen.views.rate_limited"
# Behind nginx (or any reverse proxy) set TRUSTED_PROXY_COUNT to the number of proxies in front of
# gunicorn, so rate limits and WeChat H5 see the shopper's address and not the proxy's. Left at 0,
# X-Forwarded-For is ignored: a client could write anything there.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
RATELIMIT_IP_META_KEY = "kamen.http.client_ip"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# ---------------------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "kamen": {"level": env("KAMEN_LOG_LEVEL", default="INFO")},
        "payments": {"level": env("KAMEN_LOG_LEVEL", default="INFO")},
        "orders": {"level": env("KAMEN_LOG_LEVEL", default="INFO")},
    },
}
