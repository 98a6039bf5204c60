"""The admin's first page: the numbers of the business (数据统计), for staff allowed to see them.

django-unfold calls `dashboard_context` (settings.UNFOLD["DASHBOARD_CALLBACK"]) for the admin index;
templates/admin/index.html draws it. Past days come from the summary rows, today is measured live.
"""

import json

from django.utils.translation import gettext as _

from payments.providers import provider_name

from . import figures, selectors

FIGURES_PERMISSION = "backoffice.view_dailysummary"


def dashboard_context(request, context: dict) -> dict:
    if not request.user.has_perm(FIGURES_PERMISSION):
        return context
    today = figures.shop_today()
    live = figures.measure_day(today, with_repeat_rate=False)
    series = selectors.daily_series(today, live)
    context["dashboard"] = {
        "today": today,
        "periods": selectors.periods(today, live),
        "chart": json.dumps(_chart(series)),
        "chart_options": json.dumps(CHART_OPTIONS),
        "providers": _named(selectors.provider_rates(today, live, days=7)),
        "providers_30": _named(selectors.provider_rates(today, live, days=30)),
        "best_sellers": selectors.best_sellers(today, live),
        "low_stock": selectors.low_stock(),
        "staff_queue": selectors.staff_queue_length(),
        "retention": selectors.retention(today),
        "repeat": selectors.repeat_rate(today),
        "reconciliation": selectors.latest_reconciliation(),
    }
    return context


def _named(rates: list[dict]) -> list[dict]:
    return [{**rate, "name": provider_name(rate["provider"])} for rate in rates]


def _chart(series: list[dict]) -> dict:
    return {
        "labels": [row["day"].strftime("%m-%d") for row in series],
        "datasets": [
            {
                "label": _("GMV (¥)"),
                "data": [float(row["gmv"]) for row in series],
                "borderColor": "var(--color-primary-600)",
                "backgroundColor": "var(--color-primary-600)",
                "yAxisID": "y",
                "tension": 0.3,
            },
            {
                "label": _("Paid orders"),
                "data": [row["orders"] for row in series],
                "borderColor": "var(--color-base-400)",
                "backgroundColor": "var(--color-base-400)",
                "yAxisID": "y1",
                "tension": 0.3,
            },
        ],
    }


CHART_OPTIONS = {
    "maintainAspectRatio": False,
    "interaction": {"mode": "index", "intersect": False},
    "plugins": {"legend": {"display": True, "position": "bottom"}},
    "scales": {
        "y": {"beginAtZero": True, "position": "left"},
        "y1": {"beginAtZero": True, "position": "right", "grid": {"drawOnChartArea": False}, "ticks": {"precision": 0}},
    },
}
