"""Writes of the back office: the daily summary rows and the daily reconciliation report.

Each function recomputes its rows whole from the day's data and replaces what was there, so the beat
job can run again, late, or twice at once without counting anything twice.
"""

import datetime
import logging

from django.db import transaction

from . import figures, reconciliation
from .models import DailyProductSummary, DailyProviderSummary, DailySummary, Reconciliation, SignupCohort

logger = logging.getLogger("kamen")

SUMMARY_FIELDS = (
    "gmv",
    "paid_orders",
    "buyers",
    "refunds",
    "refund_count",
    "new_members",
    "active_members",
    "commissions_accrued",
    "commissions_paid",
    "supplier_cost",
    "goods_cost",
    "product_views",
    "buyers_30d",
    "repeat_buyers_30d",
)
RETENTION_DAYS = (1, 7, 30)


def summarize_day(day: datetime.date) -> DailySummary:
    """Write `day`'s summary, its per-provider and per-product rows, and the cohorts it completes."""
    measured = figures.measure_day(day)
    # The day's views live in a cache counter for three days: once it is gone (expired, or the cache
    # restarted) the count the summary already holds stands.
    stored = DailySummary.objects.filter(day=day).values_list("product_views", flat=True).first() or 0
    measured.product_views = max(measured.product_views, stored)
    with transaction.atomic():
        summary, _ = DailySummary.objects.update_or_create(
            day=day, defaults={name: getattr(measured, name) for name in SUMMARY_FIELDS}
        )
        DailyProviderSummary.objects.filter(day=day).delete()
        DailyProviderSummary.objects.bulk_create(
            DailyProviderSummary(day=day, provider=provider, **row) for provider, row in measured.providers.items()
        )
        DailyProductSummary.objects.filter(day=day).delete()
        DailyProductSummary.objects.bulk_create(
            DailyProductSummary(day=day, product_id=product_id, **row) for product_id, row in measured.products.items()
        )
        _cohorts_ending(day)
    return summary


def _cohorts_ending(day: datetime.date) -> None:
    """The sign-up cohort of `day`, and the day-N figures that `day` completes for older cohorts."""
    SignupCohort.objects.update_or_create(day=day, defaults={"members": figures.cohort_size(day)})
    for after in RETENTION_DAYS:
        cohort_day = day - datetime.timedelta(days=after)
        returned = figures.cohort_returns(cohort_day, after)
        SignupCohort.objects.update_or_create(
            day=cohort_day,
            defaults={"members": figures.cohort_size(cohort_day), f"returned_day_{after}": returned},
        )


def summarize_recent(*, days: int = 2) -> list[datetime.date]:
    """Summarize the last `days` shop days up to yesterday, and reconcile them: the beat job's work.

    Two days, so a late payment or refund that lands just after midnight still reaches its day.
    """
    today = figures.shop_today()
    balances = reconciliation.balance_checks()  # over all time: the same for every day of the run
    done = []
    for back in range(days, 0, -1):
        day = today - datetime.timedelta(days=back)
        summarize_day(day)
        reconcile_day(day, balances=balances)
        done.append(day)
    return done


def reconcile_day(day: datetime.date, *, balances: list | None = None) -> Reconciliation:
    """Write `day`'s reconciliation report; a difference of a fen raises a staff alert, once per day.

    `balances` are the all-time balance checks when the caller has them already."""
    checks = reconciliation.run_checks(day, balances=balances)
    balanced = all(check.balanced for check in checks)
    with transaction.atomic():
        report, _ = Reconciliation.objects.update_or_create(
            day=day, defaults={"checks": [check.as_row() for check in checks], "balanced": balanced}
        )
        if not balanced:
            reconciliation.alert(report)
    if not balanced:
        logger.error("reconciliation of %s does not balance: %s", day, report.differences)
    return report
