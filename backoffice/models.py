"""Daily summary rows behind the dashboard, and the daily reconciliation report.

A beat job (backoffice.tasks.summarize_days) writes them from the orders and ledgers; the dashboard
reads these rows and never scans the order table. Days are Asia/Shanghai days (TIME_ZONE). Every row is
recomputed whole from its day's data, so running the job again gives the same rows.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


def _yuan(verbose_name):
    return models.DecimalField(verbose_name, max_digits=16, decimal_places=2, default=0)


class DailySummary(models.Model):
    day = models.DateField(_("day"), unique=True)
    gmv = _yuan(_("GMV"))
    paid_orders = models.PositiveIntegerField(_("paid orders"), default=0)
    buyers = models.PositiveIntegerField(_("buyers"), default=0)
    refunds = _yuan(_("refunded"))
    refund_count = models.PositiveIntegerField(_("refunds"), default=0)
    new_members = models.PositiveIntegerField(_("new members"), default=0)
    active_members = models.PositiveIntegerField(_("active members"), default=0)
    commissions_accrued = _yuan(_("commissions accrued"))
    commissions_paid = _yuan(_("commissions paid out"))
    supplier_cost = _yuan(_("supplier cost"))
    goods_cost = _yuan(_("cost of own codes"))
    product_views = models.PositiveIntegerField(_("product page views"), default=0)
    # Of the members who paid for an order in the 30 days ending this day, how many paid for two or more.
    buyers_30d = models.PositiveIntegerField(_("buyers in 30 days"), default=0)
    repeat_buyers_30d = models.PositiveIntegerField(_("repeat buyers in 30 days"), default=0)
    computed_at = models.DateTimeField(_("computed"), auto_now=True)

    class Meta:
        verbose_name = _("daily summary")
        verbose_name_plural = _("daily summaries")
        ordering = ["-day"]

    def __str__(self) -> str:
        return str(self.day)


class DailyProviderSummary(models.Model):
    """Payments started and confirmed with one provider on one day: its success rate."""

    day = models.DateField(_("day"))
    provider = models.CharField(_("provider"), max_length=32)
    started = models.PositiveIntegerField(_("started"), default=0)
    confirmed = models.PositiveIntegerField(_("confirmed"), default=0)
    amount = _yuan(_("amount confirmed"))

    class Meta:
        verbose_name = _("daily payments by provider")
        verbose_name_plural = _("daily payments by provider")
        constraints = [models.UniqueConstraint(fields=["day", "provider"], name="provider_summary_once_a_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.provider}"


class DailyProductSummary(models.Model):
    """What one product sold on one day (paid orders): the source of the best-seller lists."""

    day = models.DateField(_("day"))
    product_id = models.BigIntegerField(_("product"))
    title = models.CharField(_("product"), max_length=120)
    quantity = models.PositiveIntegerField(_("quantity"), default=0)
    revenue = _yuan(_("revenue"))

    class Meta:
        verbose_name = _("daily sales by product")
        verbose_name_plural = _("daily sales by product")
        constraints = [models.UniqueConstraint(fields=["day", "product_id"], name="product_summary_once_a_day")]
        indexes = [models.Index(fields=["day", "product_id"], name="product_summary_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.title}"


class SignupCohort(models.Model):
    """Members who signed up on one day, and how many of them came back to order N days later."""

    day = models.DateField(_("sign-up day"), unique=True)
    members = models.PositiveIntegerField(_("members"), default=0)
    returned_day_1 = models.PositiveIntegerField(_("ordered on day 1"), null=True)
    returned_day_7 = models.PositiveIntegerField(_("ordered on day 7"), null=True)
    returned_day_30 = models.PositiveIntegerField(_("ordered on day 30"), null=True)

    class Meta:
        verbose_name = _("sign-up cohort")
        verbose_name_plural = _("sign-up cohorts")
        ordering = ["-day"]

    def __str__(self) -> str:
        return str(self.day)


class Reconciliation(models.Model):
    """The daily 对账 report: each check's two sides, and whether they agree to the fen."""

    day = models.DateField(_("day"), unique=True)
    checks = models.JSONField(_("checks"), default=list)
    balanced = models.BooleanField(_("balanced"), default=True)
    computed_at = models.DateTimeField(_("computed"), auto_now=True)

    class Meta:
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")
        ordering = ["-day"]

    def __str__(self) -> str:
        return str(self.day)

    @property
    def differences(self) -> list[dict]:
        return [check for check in self.checks if check["difference"] != "0.00"]
