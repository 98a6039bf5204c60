"""What every app shares: the audit log of staff actions, the shop settings staff edit, and back-office jobs."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffAction(models.Model):
    """One thing a staff member did that moves money, reveals a secret or changes what the shop sells.

    Append-only: admin shows these rows and lets nobody edit or delete them. `before` and `after` hold
    the fields that changed, as the shop showed them, so a row still reads true after the object is gone.
    """

    class Kind(models.TextChoices):
        REFUND = "refund", _("Refund")
        WALLET_CREDIT = "wallet_credit", _("Wallet credit")
        CODE_REVEAL = "code_reveal", _("Card code revealed")
        EXPORT = "export", _("Export")
        PRICE_CHANGE = "price_change", _("Price change")
        LEVEL_CHANGE = "level_change", _("Member level change")
        MODERATION = "moderation", _("Moderation")
        SETTINGS_CHANGE = "settings_change", _("Shop settings change")
        RISK_RULE = "risk_rule", _("Risk rule change")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("by")
    )
    kind = models.CharField(_("action"), max_length=24, choices=Kind.choices)
    target_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("object type")
    )
    target_id = models.CharField(_("object id"), max_length=64, blank=True)
    target_label = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(_("after"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    note = models.CharField(_("note"), max_length=500, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("staff action")
        verbose_name_plural = _("staff actions")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["kind", "-created_at"], name="staff_action_kind"),
            models.Index(fields=["target_type", "target_id"], name="staff_action_target"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.target_label}"


LOGO_MAX_BYTES = 512 * 1024
RESERVATION_MINUTES_MIN = 5
RESERVATION_MINUTES_MAX = 120


def validate_logo_size(logo) -> None:
    if logo.size > LOGO_MAX_BYTES:
        raise ValidationError(
            _("The logo may be at most %(kb)s KB; this file has %(size)s KB."),
            params={"kb": LOGO_MAX_BYTES // 1024, "size": logo.size // 1024},
        )


class ShopSettings(models.Model):
    """What staff change about the shop without a deploy: one row, read through kamen.shop_settings.current().

    Texts are plain text that pages escape (paragraphs and line breaks only): staff never write HTML
    into the shop's pages. An English text left blank falls back to the Chinese one.
    """

    SINGLETON_ID = 1

    name = models.CharField(
        _("shop name"),
        max_length=40,
        blank=True,
        help_text=_("Shown in the header, page titles and e-mails; blank: kamen 卡盟."),
    )
    logo = models.ImageField(
        _("logo"),
        upload_to="shop/",
        blank=True,
        validators=[FileExtensionValidator(["png", "jpg", "jpeg", "webp"]), validate_logo_size],
        help_text=_("PNG, JPEG or WebP, at most 512 KB; about 160 × 48 pixels looks best."),
    )
    # After-sales contact (售后), shown in the footer and on the help page.
    contact_qq = models.CharField(
        _("QQ"),
        max_length=12,
        blank=True,
        validators=[RegexValidator(r"^[1-9][0-9]{4,11}$", _("A QQ number is 5 to 12 digits."))],
    )
    contact_wechat = models.CharField(
        _("WeChat ID"),
        max_length=20,
        blank=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z][-_A-Za-z0-9]{5,19}$",
                _("A WeChat ID is 6 to 20 letters, digits, - or _, starting with a letter."),
            )
        ],
    )
    contact_telegram = models.CharField(
        _("Telegram username"),
        max_length=32,
        blank=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z][A-Za-z0-9_]{4,31}$", _("A Telegram username is 5 to 32 letters, digits or _, without @.")
            )
        ],
    )
    contact_email = models.EmailField(_("after-sales e-mail"), blank=True)
    service_hours = models.CharField(_("service hours"), max_length=60, blank=True, help_text=_("e.g. 每天 9:00–23:00"))
    faq = models.TextField(
        _("FAQ (常见问题)"),
        max_length=20000,
        blank=True,
        help_text=_("One question per block: the first line asks, the lines below answer; blank lines between blocks."),
    )
    faq_en = models.TextField(_("FAQ in English"), max_length=20000, blank=True)
    terms = models.TextField(_("terms of service (用户协议)"), max_length=50000, blank=True)
    terms_en = models.TextField(_("terms of service in English"), max_length=50000, blank=True)
    privacy = models.TextField(_("privacy policy (隐私政策)"), max_length=50000, blank=True)
    privacy_en = models.TextField(_("privacy policy in English"), max_length=50000, blank=True)
    reservation_minutes = models.PositiveSmallIntegerField(
        _("order reservation minutes"),
        null=True,
        blank=True,
        validators=[MinValueValidator(RESERVATION_MINUTES_MIN), MaxValueValidator(RESERVATION_MINUTES_MAX)],
        help_text=_(
            "How long an unpaid order holds its codes, 5 to 120; blank: the server's ORDER_RESERVATION_MINUTES."
        ),
    )
    # Feature switches: each one is read where the feature acts, not only where its link shows.
    guest_checkout = models.BooleanField(
        _("guest checkout"), default=True, help_text=_("Off: only signed-in members can buy.")
    )
    sign_up_open = models.BooleanField(_("sign-up open"), default=True, help_text=_("Off: no new accounts."))
    daily_check_in = models.BooleanField(
        _("daily check-in"), default=True, help_text=_("Members earn points by checking in each day.")
    )
    points_mall = models.BooleanField(_("points mall"), default=True, help_text=_("Members spend points on rewards."))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("shop settings")
        verbose_name_plural = _("shop settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="shop_settings_singleton"),
            models.CheckConstraint(
                condition=models.Q(reservation_minutes__isnull=True)
                | models.Q(
                    reservation_minutes__gte=RESERVATION_MINUTES_MIN, reservation_minutes__lte=RESERVATION_MINUTES_MAX
                ),
                name="shop_settings_reservation_minutes",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Shop settings"))


class AdminJob(models.Model):
    """Long back-office work (a card-code import, an export) that a worker runs while staff watch its progress.

    It lives in the bottom layer because the catalog (imports) and the back office (exports) both start
    jobs, and the catalog may not import the back office. Its files sit under PRIVATE_FILES_ROOT, never
    under MEDIA: only the job's download view hands them out, to the staff member who asked.
    """

    class Kind(models.TextChoices):
        CODE_IMPORT = "code_import", _("Card-code import")
        EXPORT = "export", _("Export")

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    parameters = models.JSONField(_("parameters"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.QUEUED)
    done = models.PositiveIntegerField(_("done"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)
    result = models.JSONField(_("result"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    error = models.CharField(_("error"), max_length=500, blank=True)
    # Paths relative to PRIVATE_FILES_ROOT: what the job reads (codes to import) and what it wrote (an export).
    input_file = models.CharField(max_length=200, blank=True, editable=False)
    output_file = models.CharField(max_length=200, blank=True, editable=False)
    file_name = models.CharField(_("file"), max_length=120, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("back-office job")
        verbose_name_plural = _("back-office jobs")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["requested_by", "-created_at"], name="admin_job_by_requester"),
            models.Index(fields=["state", "finished_at"], name="admin_job_finished"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(done__lte=models.F("total")), name="admin_job_done_le_total"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return self.done * 100 // self.total if self.total else 0


#: Which state a job may move to from each state; a retried task runs a running job again.
JOB_MOVES: dict[str, set[str]] = {
    AdminJob.State.QUEUED: {AdminJob.State.RUNNING, AdminJob.State.FAILED},
    AdminJob.State.RUNNING: {AdminJob.State.RUNNING, AdminJob.State.DONE, AdminJob.State.FAILED},
    AdminJob.State.DONE: set(),
    AdminJob.State.FAILED: set(),
}
