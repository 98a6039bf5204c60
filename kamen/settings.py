"""kamen settings, driven by the environment.

With nothing set the shop runs embedded: SQLite file, Celery tasks eager in-process, e-mail to the
console, DEBUG off, only loopback host names, random keys kept in a local file, and the sandbox
payment provider for requests made on this machine only. DATABASE_URL and REDIS_URL switch to
PostgreSQL and a real Celery broker. KAMEN_ENV=production refuses to start without its secrets.
"""

import hmac
import ipaddress
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from kamen import local_secrets

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# ---------------------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------------------
KAMEN_ENV = env("KAMEN_ENV", default="development")
PRODUCTION = KAMEN_ENV == "production"
PRODUCTION_REQUIRED = (
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "CARD_CODE_KEYS",
    "CARD_CODE_FINGERPRINT_KEY",
    "ALLOWED_HOSTS",
    "SITE_URL",
)

if PRODUCTION:
    missing = [name for name in PRODUCTION_REQUIRED if not env(name, default="")]
    if missing:
        raise ImproperlyConfigured(f"KAMEN_ENV=production needs these environment variables: {', '.join(missing)}")
    _local_secrets = {}
else:
    # Whatever the environment leaves out comes from the local file, made at random on the first start.
    _local_secrets = (
        {}
        if all(env(name, default="") for name in local_secrets.NAMES)
        else local_secrets.load_or_create(Path(env("KAMEN_SECRETS_FILE", default=str(BASE_DIR / "local-secrets.env"))))
    )


def _secret(name: str) -> str:
    return env(name, default="") or _local_secrets[name]


SECRET_KEY = _secret("SECRET_KEY")
# Debug pages list every URL and show settings: only when a developer asks for them (`make dev`).
DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when KAMEN_ENV=production.")
# The one base for absolute links: e-mails, gateways' notify and return URLs. Never the Host header.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
_SITE = urlsplit(SITE_URL)
_SITE_HOST = f"[{_SITE.hostname}]" if ":" in (_SITE.hostname or "") else _SITE.hostname or ""
# Without ALLOWED_HOSTS the shop answers its loopback names and the host SITE_URL names, nothing else.
LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[*LOOPBACK_HOSTS, *([_SITE_HOST] if _SITE_HOST not in LOOPBACK_HOSTS else [])]
)
if "*" in ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS='*' lets any Host header through; name the shop's host names (allowed with DEBUG only)."
    )
# The shop's own origin is trusted for forms: behind a TLS-terminating proxy the request itself says http.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[f"{_SITE.scheme}://{_SITE.netloc}"])


def _is_loopback_host(host: str) -> bool:
    """A host name or address that only this machine can reach (localhost, 127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The shop is "on loopback" when its own address and every host it answers to are loopback ones, as
# with `make run` on 127.0.0.1: nobody on another machine can reach it by any name it accepts.
SHOP_ON_LOOPBACK = _is_loopback_host(_SITE.hostname or "") and all(_is_loopback_host(host) for host in ALLOWED_HOSTS)

# ---------------------------------------------------------------------------------------------------
# Applications
# ---------------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    # The admin's theme: before django.contrib.admin, so its templates win.
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",
    # The admin site of kamen/admin_site.py: unfold's, behind the shop's login and staff 2FA.
    "kamen.admin_apps.ShopAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "csp",
    "djmoney",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "kamen",
    "accounts",
    "catalog",
    "orders",
    "payments",
    "distribution",
    "backoffice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "kamen.admin_policy.AdminThemePolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "kamen.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything reads the session, the user or a form: NUL bytes and broken UTF-8 end here.
    "kamen.middleware.MalformedInputMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "distribution.cookies.DeviceCookieMiddleware",
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
                "kamen.context_processors.shop",
                "catalog.context_processors.navigation",
                "accounts.context_processors.unread_messages",
            ],
        },
    },
]

# ---------------------------------------------------------------------------------------------------
# Admin (django-unfold): the back office staff work in
# ---------------------------------------------------------------------------------------------------
UNFOLD = {
    "SITE_TITLE": "kamen.admin_site.site_title",
    "SITE_HEADER": "kamen.admin_site.site_title",
    "SITE_SUBHEADER": "kamen.admin_site.site_subheader",
    "SITE_SYMBOL": "storefront",
    "SITE_ICON": "kamen.admin_site.site_icon",
    "SITE_FAVICONS": [{"rel": "icon", "type": "image/svg+xml", "href": "kamen.admin_site.site_icon"}],
    "SITE_URL": "/",
    "SHOW_LANGUAGES": True,
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": True,
    "DASHBOARD_CALLBACK": "backoffice.dashboard.dashboard_context",
    "STYLES": ["kamen.admin_site.stylesheet"],
    "BORDER_RADIUS": "6px",
    # The storefront's orange, in place of the theme's purple.
    "COLORS": {
        "primary": {
            "50": "oklch(98% .016 73.684)",
            "100": "oklch(95.4% .038 75.164)",
            "200": "oklch(90.1% .076 70.697)",
            "300": "oklch(83.7% .128 66.29)",
            "400": "oklch(75% .183 55.934)",
            "500": "oklch(70.5% .213 47.604)",
            "600": "oklch(64.6% .222 41.116)",
            "700": "oklch(55.3% .195 38.402)",
            "800": "oklch(47% .157 37.304)",
            "900": "oklch(40.8% .123 38.172)",
            "950": "oklch(26.6% .079 36.259)",
        },
    },
    "SIDEBAR": {"show_search": True, "show_all_applications": True, "navigation": "kamen.admin_site.sidebar"},
}

# ---------------------------------------------------------------------------------------------------
# Database and cache
# ---------------------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # An unreachable database fails a request in seconds instead of holding its thread indefinitely.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
else:
    # SQLite: wait for a writer instead of failing at once, and take the write lock up front.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
# A PostgreSQL read replica for catalog pages (kamen/db_router.py): off unless DATABASE_REPLICA_URL
# is set. Rows it lags behind are covered by one more catalog generation REPLICA_LAG_SECONDS after a
# change; stock counts are always read from the primary.
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = {
        **DATABASES["default"],
        **env.db("DATABASE_REPLICA_URL"),
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["kamen.db_router.CatalogReplicaRouter"]
REPLICA_READ_MODELS = ("catalog.Category", "catalog.Product", "catalog.Sku")
REPLICA_LAG_SECONDS = env.int("REPLICA_LAG_SECONDS", default=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")


def redis_cache(url: str) -> dict:
    """The cache on Redis at `url`.

    Pages render without Redis: while it is unreachable each process uses its own memory instead
    (kamen/cache.py), and short socket timeouts keep a vanished server from stalling a page.
    """
    return {
        "default": {
            "BACKEND": "kamen.cache.OutageTolerantRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }


if REDIS_URL:
    CACHES = redis_cache(REDIS_URL)
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
# Staff open the admin only with a second factor (TOTP or a recovery code) set up on their account.
STAFF_REQUIRE_2FA = env.bool("STAFF_REQUIRE_2FA", default=True)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "kamen"
LOGIN_REDIRECT_URL = "/"
# Sign-ups bind the inviter whose link the visitor came by (distribution sits above accounts).
ACCOUNT_ADAPTER = "distribution.adapter.InvitingAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
# Sign-up never tells whether an address has an account: a taken address gets the same "check your
# mail" answer as a new one, and its owner a mail saying so. allauth can only answer alike when every
# new account confirms its address before it signs in (mandatory verification).
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
# The login and sign-up forms ask for the security check (kamen.captcha) after bursts from one address.
ACCOUNT_FORMS = {"login": "accounts.forms.ShopLoginForm", "signup": "accounts.forms.ShopSignupForm"}
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
        # Hashed, compressed names from `collectstatic` (make run does it); DEBUG reads the source tree.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=not PRODUCTION)
# Files of back-office jobs (exports with member data or card secrets, codes waiting to be imported):
# outside MEDIA_ROOT, so no URL serves them; only the job's permission-checked download view reads them.
PRIVATE_FILES_ROOT = env.path("PRIVATE_FILES_ROOT", default=BASE_DIR / "private")
# A job's files are deleted this many days after it finished (kamen.tasks.purge_job_files_task).
ADMIN_JOB_FILES_DAYS = env.int("ADMIN_JOB_FILES_DAYS", default=7)

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
# Where django.core.mail.backends.filebased.EmailBackend writes (benchmarks and tests count e-mails there).
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "sent-mail"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="kamen <noreply@kamen.local>")


# ---------------------------------------------------------------------------------------------------
# Card codes: encrypted at rest
# ---------------------------------------------------------------------------------------------------
# Fernet keys, newest first: new codes use the first, every key still decrypts (rotation).
CARD_CODE_KEYS = [key.strip() for key in _secret("CARD_CODE_KEYS").split(",") if key.strip()]
for _key in CARD_CODE_KEYS or [""]:
    try:
        Fernet(_key)
    except ValueError:
        # Refused at start, not at the first import of codes: a typo must never cost a batch of codes.
        raise ImproperlyConfigured(
            "CARD_CODE_KEYS holds a value that is not a Fernet key (32 url-safe base64-encoded bytes); make one "
            'with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        ) from None
# Keyed fingerprint for duplicate detection; unlike CARD_CODE_KEYS it must never change.
CARD_CODE_FINGERPRINT_KEY = _secret("CARD_CODE_FINGERPRINT_KEY")

# ---------------------------------------------------------------------------------------------------
# Orders and payments
# ---------------------------------------------------------------------------------------------------
ORDER_RESERVATION_MINUTES = env.int("ORDER_RESERVATION_MINUTES", default=15)
# Whether refunds that take a member's paid orders below their level move them down (accounts.levels).
MEMBER_LEVELS_DROP_ON_REFUND = env.bool("MEMBER_LEVELS_DROP_ON_REFUND", default=False)
# Points (积分): per yuan of a delivered order (times the member level's multiplier), and the daily
# check-in's base, plus a step for each day in a row up to a number of days.
POINTS_PER_YUAN = env.int("POINTS_PER_YUAN", default=1)
# Staff alerts to a Telegram bot go through this API (a test points it at a fake on loopback).
TELEGRAM_API_URL = env("TELEGRAM_API_URL", default="https://api.telegram.org")
POINTS_CHECK_IN = env.int("POINTS_CHECK_IN", default=5)
POINTS_CHECK_IN_STREAK_STEP = env.int("POINTS_CHECK_IN_STREAK_STEP", default=1)
POINTS_CHECK_IN_STREAK_DAYS = env.int("POINTS_CHECK_IN_STREAK_DAYS", default=6)
# Paid orders still undelivered after this long are re-enqueued by the sweeper.
DELIVERY_SWEEP_AFTER = timedelta(seconds=env.int("DELIVERY_SWEEP_AFTER_SECONDS", default=60))
# Delivered orders whose e-mail was not sent this long after delivery are mailed by the sweeper, up to
# MAIL_SWEEP_WITHIN after payment. A send claimed this long ago and never finished is taken over.
MAIL_SWEEP_AFTER = timedelta(seconds=env.int("MAIL_SWEEP_AFTER_SECONDS", default=120))
MAIL_SWEEP_WITHIN = timedelta(hours=env.int("MAIL_SWEEP_WITHIN_HOURS", default=48))
MAIL_CLAIM_STALE_AFTER = timedelta(seconds=env.int("MAIL_CLAIM_STALE_AFTER_SECONDS", default=600))
ORDER_LOOKUP_RATE = env("ORDER_LOOKUP_RATE", default="10/m")
# Risk rules (orders.services.risk). A paid order is held in the staff queue instead of delivered when
# it costs at least RISK_HOLD_NEW_BUYER_TOTAL yuan and comes from a guest or an account younger than
# RISK_NEW_ACCOUNT_HOURS, or when RISK_BURST_ORDERS orders were paid from its address or device within
# RISK_BURST_MINUTES (API orders excepted). 0 turns a rule off.
RISK_HOLD_NEW_BUYER_TOTAL = Decimal(env("RISK_HOLD_NEW_BUYER_TOTAL", default="500"))
RISK_NEW_ACCOUNT_AGE = timedelta(hours=env.int("RISK_NEW_ACCOUNT_HOURS", default=24))
RISK_BURST_ORDERS = env.int("RISK_BURST_ORDERS", default=10)
RISK_BURST_WINDOW = timedelta(minutes=env.int("RISK_BURST_MINUTES", default=10))
# The self-hosted proof-of-work check (kamen.captcha): asked on sign-up, login and guest checkout once
# an address has made CAPTCHA_AFTER attempts of that kind (failed ones, for login) within
# CAPTCHA_WINDOW_SECONDS. A challenge lives CAPTCHA_TTL_SECONDS; CAPTCHA_BITS leading zero bits cost
# a browser about 2**bits hashes (18: a fraction of a second on a phone, a real cost to a bot in bulk).
CAPTCHA_AFTER = {
    "login": env.int("CAPTCHA_AFTER_FAILED_LOGINS", default=3),
    "signup": env.int("CAPTCHA_AFTER_SIGNUPS", default=5),
    "checkout": env.int("CAPTCHA_AFTER_GUEST_CHECKOUTS", default=5),
}
CAPTCHA_WINDOW_SECONDS = env.int("CAPTCHA_WINDOW_SECONDS", default=600)
CAPTCHA_TTL_SECONDS = env.int("CAPTCHA_TTL_SECONDS", default=300)
CAPTCHA_BITS = env.int("CAPTCHA_BITS", default=18)
# Checkout's price preview also answers whether a coupon code exists: limited so codes cannot be guessed.
PRICE_PREVIEW_RATE = env("PRICE_PREVIEW_RATE", default="120/m")
# Guest lookup passwords: a keyed hash, not a slow one (orders/lookup_passwords.py says why).
LOOKUP_PASSWORD_HASHER = "orders.lookup_passwords.KeyedLookupPasswordHasher"

# 模拟支付 pays for codes without money, so it is never on in production and, unless
# SANDBOX_PAYMENTS_ENABLED says otherwise, on only while the shop is on loopback (see SHOP_ON_LOOPBACK);
# even then its cashier, pay action and notifications serve only requests made on this machine.
# SANDBOX_PAYMENTS_ENABLED=true offers it to everyone (a demo server), =false turns it off.
SANDBOX_PAYMENTS_LOOPBACK_ONLY = not PRODUCTION and "SANDBOX_PAYMENTS_ENABLED" not in env
SANDBOX_PAYMENTS_ENABLED = not PRODUCTION and (
    SHOP_ON_LOOPBACK if SANDBOX_PAYMENTS_LOOPBACK_ONLY else env.bool("SANDBOX_PAYMENTS_ENABLED")
)
# The sandbox gateway signs its notifications with this key, as a real gateway signs with its own.
SANDBOX_SIGNING_KEY = env("SANDBOX_SIGNING_KEY", default="") if PRODUCTION else _secret("SANDBOX_SIGNING_KEY")
# Where the sandbox gateway posts its notification; empty means this site's own notify URL.
SANDBOX_NOTIFY_URL = env("SANDBOX_NOTIFY_URL", default="")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


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
# What payments pay for: each purpose says what a confirmed payment or a refund means for it.
PAYMENT_PURPOSES = [
    # An order's payment with the commissions of its buyer's upline (distribution sits above orders).
    "distribution.purposes.CommissionedOrderPurpose",
    "payments.purposes.TopUpPurpose",
    "orders.purposes.LevelPurchasePurpose",
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
# Distribution (分销)
# ---------------------------------------------------------------------------------------------------
# Commission rates in per cent for the three levels above a buyer, for goods no staff rule covers.
# Three is the legal limit (《禁止传销条例》): there is no fourth.
COMMISSION_RATES = tuple(Decimal(rate) for rate in env.list("COMMISSION_RATES", default=["10", "5", "3"]))
if len(COMMISSION_RATES) != 3 or not all(0 <= rate <= 100 for rate in COMMISSION_RATES):
    raise ImproperlyConfigured("COMMISSION_RATES must be three per-cent rates between 0 and 100, e.g. 10,5,3")
# Commissions become available this long after they are earned, once the order is delivered and not refunded.
COMMISSION_HOLD = timedelta(days=env.int("COMMISSION_HOLD_DAYS", default=7))
# 邀请有礼: a no-threshold coupon for the invitee at sign-up, and a reward for the inviter on the invitee's
# first paid order (0 turns either off).
INVITEE_COUPON_AMOUNT = Decimal(env("INVITEE_COUPON_AMOUNT", default="5.00"))
INVITE_REWARD = Decimal(env("INVITE_REWARD", default="2.00"))
INVITE_COOKIE_DAYS = env.int("INVITE_COOKIE_DAYS", default=30)
# Withdrawals (提现): the least one may ask for, and the fee kept from each, in per cent.
WITHDRAWAL_MIN = Decimal(env("WITHDRAWAL_MIN", default="10.00"))
WITHDRAWAL_FEE_PERCENT = Decimal(env("WITHDRAWAL_FEE_PERCENT", default="0"))
SETTLE_EVERY = float(env.int("SETTLE_EVERY_SECONDS", default=600))

# ---------------------------------------------------------------------------------------------------
# Upstream suppliers (catalog/suppliers/)
# ---------------------------------------------------------------------------------------------------
SUPPLIER_ADAPTERS = ["catalog.suppliers.kamen.KamenAdapter", "catalog.suppliers.fulu.FuluAdapter"]
# Products newly found upstream are priced at cost plus this many per cent until staff review them.
SUPPLIER_DEFAULT_MARGIN_PERCENT = Decimal(env("SUPPLIER_DEFAULT_MARGIN_PERCENT", default="10"))
SUPPLIER_SYNC_EVERY = float(env.int("SUPPLIER_SYNC_EVERY_SECONDS", default=180))
# An upstream order not delivered this long after payment goes to the staff queue, every attempt logged.
UPSTREAM_DELIVERY_DEADLINE = timedelta(seconds=env.int("UPSTREAM_DELIVERY_DEADLINE_SECONDS", default=300))
# A supplier that could not be reached is asked again after this long (other suppliers meanwhile).
UPSTREAM_RETRY_SECONDS = env.int("UPSTREAM_RETRY_SECONDS", default=10)

# ---------------------------------------------------------------------------------------------------
# Celery
# ---------------------------------------------------------------------------------------------------
# One retry policy for every task (kamen.tasks.OutageTolerantTask): exponential back-off with jitter.
TASK_RETRY_BACKOFF_SECONDS = env.int("TASK_RETRY_BACKOFF_SECONDS", default=2)
TASK_RETRY_BACKOFF_MAX_SECONDS = env.int("TASK_RETRY_BACKOFF_MAX_SECONDS", default=300)
TASK_MAX_RETRIES = env.int("TASK_MAX_RETRIES", default=12)

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
    # A reseller's slow callback endpoint must not hold up delivery e-mails.
    "orders.tasks.send_webhook_task": {"queue": "default"},
    "orders.tasks.send_*": {"queue": "mail"},
    "accounts.tasks.send_*": {"queue": "mail"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
}
# A broker outage is waited out: workers reconnect for as long as it lasts, also at start-up, and
# tasks running when the connection dropped are handed back to be run again (they are idempotent).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Publishing from a web request tries for about a second, then the request goes on without it
# (kamen.tasks.enqueue) and the sweepers send it later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.3, "interval_max": 0.5}
CELERY_TIMEZONE = TIME_ZONE
SWEEP_EVERY = float(env.int("SWEEP_EVERY_SECONDS", default=30))
RECONCILE_EVERY = float(env.int("RECONCILE_EVERY_SECONDS", default=60))
CELERY_BEAT_SCHEDULE = {
    "expire-unpaid-orders": {"task": "orders.tasks.expire_unpaid_orders_task", "schedule": SWEEP_EVERY},
    "sweep-undelivered-orders": {"task": "orders.tasks.sweep_undelivered_orders_task", "schedule": SWEEP_EVERY},
    "sweep-unsent-emails": {"task": "orders.tasks.sweep_unsent_delivery_emails_task", "schedule": SWEEP_EVERY},
    "sweep-unsent-messages": {"task": "accounts.tasks.sweep_unsent_message_emails_task", "schedule": SWEEP_EVERY},
    "sweep-unsent-staff-alerts": {"task": "accounts.tasks.sweep_unsent_staff_alerts_task", "schedule": SWEEP_EVERY},
    "reconcile-payments": {"task": "payments.tasks.reconcile_payments_task", "schedule": RECONCILE_EVERY},
    "sync-refunds": {"task": "payments.tasks.sync_processing_refunds_task", "schedule": 300.0},
    "settle-commissions": {"task": "distribution.tasks.settle_commissions_task", "schedule": SETTLE_EVERY},
    "sync-withdrawals": {"task": "distribution.tasks.sync_sending_withdrawals_task", "schedule": 300.0},
    "sweep-due-webhooks": {"task": "orders.tasks.sweep_due_webhooks_task", "schedule": SWEEP_EVERY},
    "purge-api-nonces": {"task": "accounts.tasks.purge_api_nonces_task", "schedule": 600.0},
    "sync-suppliers": {"task": "catalog.tasks.sync_suppliers_task", "schedule": SUPPLIER_SYNC_EVERY},
    # Yesterday's figures and 对账 soon after midnight (Asia/Shanghai), again each hour for late arrivals.
    "summarize-days": {"task": "backoffice.tasks.summarize_days_task", "schedule": crontab(minute=10)},
    "advance-upstream-purchases": {"task": "orders.tasks.advance_upstream_orders_task", "schedule": 10.0},
    "purge-job-files": {"task": "kamen.tasks.purge_job_files_task", "schedule": 3600.0},
}
# A back-office job (an import of 100,000 codes, an export of a year of orders) runs for minutes, not
# the seconds every other task gets.
ADMIN_JOB_SOFT_TIME_LIMIT = env.int("ADMIN_JOB_SOFT_TIME_LIMIT_SECONDS", default=1800)
# /health/ reports a worker or beat dead when its heartbeat is older than this; a worker's consumer
# records one every HEALTH_HEARTBEAT_SECONDS, beat whenever it publishes.
HEALTH_HEARTBEAT_SECONDS = env.float("HEALTH_HEARTBEAT_SECONDS", default=10.0)
HEALTH_WORKER_STALE = timedelta(seconds=env.int("HEALTH_WORKER_STALE_SECONDS", default=60))
HEALTH_BEAT_STALE = timedelta(seconds=env.int("HEALTH_BEAT_STALE_SECONDS", default=int(max(120, 3 * SWEEP_EVERY))))

# ---------------------------------------------------------------------------------------------------
# Security
# ---------------------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Database sessions that take the viewer card cached pages read with them when they go (kamen.viewers).
SESSION_ENGINE = "kamen.viewers"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy: scripts, styles, fonts and fetches from this site only, no inline script or
# style (templates use CSS classes), images also as data: URIs (QR codes drawn by the server, the
# favicon). Forms post here, and a checkout may be redirected on to a gateway's own page.
_GATEWAY_ORIGINS = [
    *([_origin(ALIPAY_SERVER_URL)] if ALIPAY_ENABLED else []),
    *(["https://wx.tenpay.com"] if WECHATPAY_ENABLED and WECHATPAY_H5_ENABLED else []),
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF, *_GATEWAY_ORIGINS],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}
# The personal parts of pages cached for members of a level, filled in for each member as served.
PAGE_CACHE_PERSONAL = {"email": "accounts.inbox.email_slot", "unread": "accounts.inbox.unread_slot"}
RATELIMIT_VIEW = "kamen.views.rate_limited"
CSRF_FAILURE_VIEW = "kamen.views.csrf_failure"
# Rate limits (order lookup here, login and sign-up in allauth) count in the cache. While Redis is
# unreachable they neither fail open nor closed: each process counts in its own memory
# (kamen/cache.py), so a limit still holds per gunicorn process. Failing open would make an outage a
# free window for guessing passwords; failing closed would lock every shopper out of login and
# order lookup for as long as it lasts.
RATELIMIT_FAIL_OPEN = False
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
# Downstream API /api/v1/ (resellers' programs)
# ---------------------------------------------------------------------------------------------------
# Keys' secrets are derived from this and never stored (accounts.api_keys): changing it voids every key.
API_KEY_SECRET = (
    env("API_KEY_SECRET", default="") or hmac.new(SECRET_KEY.encode(), b"kamen api keys", "sha256").hexdigest()
)
# Callbacks go to public addresses only; a test or a shop docked to another on its own network allows private ones.
API_CALLBACKS_TO_PRIVATE_ADDRESSES = env.bool("API_CALLBACKS_TO_PRIVATE_ADDRESSES", default=False)
API_WEBHOOK_TIMEOUT = env.float("API_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
REST_FRAMEWORK = {
    # Each API view names its own (accounts.api.ApiView): nothing is signed in by a session here.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kamen.api.handle_exception",
    "DEFAULT_THROTTLE_RATES": {"api_key": env("API_RATE_LIMIT", default="1200/min")},
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "kamen API",
    "DESCRIPTION": (
        "Buy from this shop by program: products at your member level's price, orders paid from your "
        "wallet with your own order number as idempotency key, their codes once delivered, and signed "
        "callbacks. Every request is signed with an API key made in the member dashboard."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "kamen.api.add_error_responses",
    ],
}

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
        "catalog": {"level": env("KAMEN_LOG_LEVEL", default="INFO")},
    },
}
