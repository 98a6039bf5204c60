"""The numbers of the business on orders, refunds and sign-ups whose answers are known."""

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from djmoney.money import Money

from backoffice import selectors, services
from backoffice.models import DailyProductSummary, DailyProviderSummary, DailySummary, SignupCohort
from catalog import views_counter
from kamen.testing import factories
from orders import services as order_services
from orders.models import Order

from .days import DAY, at, later, member


@pytest.fixture
def day_of_sales(db, sku, buy, staff, django_capture_on_commit_callbacks):
    """On DAY: three sign-ups; A buys twice (2 codes, then 1), B once (1 code); A gets ¥5.00 back."""
    a, b, c = (member(f"{name}@example.com", DAY) for name in "abc")
    first = buy(a, DAY, quantity=2)
    buy(a, DAY, quantity=1, hour=15)
    buy(b, DAY, quantity=1, hour=23)
    with at(DAY, 18), django_capture_on_commit_callbacks(execute=True):
        order_services.create_refund(first, amount=Decimal("5.00"), destination="wallet", actor=staff)
    return a, b, c


def test_a_days_summary_adds_up_its_orders_refunds_and_members(day_of_sales):
    summary = services.summarize_day(DAY)

    assert (summary.gmv, summary.paid_orders, summary.buyers) == (Decimal("40.00"), 3, 2)
    assert (summary.refunds, summary.refund_count) == (Decimal("5.00"), 1)
    assert (summary.new_members, summary.active_members) == (3, 2)
    assert (summary.buyers_30d, summary.repeat_buyers_30d) == (2, 1)  # A bought twice, B once
    provider = DailyProviderSummary.objects.get(day=DAY)
    assert (provider.provider, provider.started, provider.confirmed, provider.amount) == ("sandbox", 3, 3, 40)
    product = DailyProductSummary.objects.get(day=DAY)
    assert (product.quantity, product.revenue) == (4, Decimal("40.00"))


def test_the_day_before_and_after_hold_none_of_it(day_of_sales):
    before, after = services.summarize_day(later(-1)), services.summarize_day(later(1))

    assert before.gmv == after.gmv == 0 and before.paid_orders == after.paid_orders == 0


def test_an_order_paid_just_before_midnight_in_shanghai_belongs_to_that_day(db, buy, shopper):
    buy(shopper, DAY, hour=23)  # 15:00 UTC of DAY, before midnight in Shanghai
    with at(later(1), 0, 30):
        buy(shopper, later(1), hour=0)

    assert services.summarize_day(DAY).paid_orders == 1
    assert services.summarize_day(later(1)).paid_orders == 1


def test_the_daily_job_is_idempotent(day_of_sales):
    first = services.summarize_day(DAY)
    services.summarize_day(DAY)
    again = services.summarize_day(DAY)

    assert DailySummary.objects.count() == 1 and DailyProductSummary.objects.count() == 1
    assert DailyProviderSummary.objects.count() == 1
    assert (again.gmv, again.paid_orders, again.refunds) == (first.gmv, first.paid_orders, first.refunds)


def test_the_beat_job_summarizes_yesterday_and_the_day_before(day_of_sales):
    with at(later(2), 0, 10):
        done = services.summarize_recent()

    assert done == [DAY, later(1)]
    assert DailySummary.objects.get(day=DAY).gmv == Decimal("40.00")


def test_retention_counts_who_of_a_cohort_ordered_on_day_1_7_and_30(db, buy):
    a, b, c = (member(f"{name}@example.com", DAY) for name in "abc")
    member("late@example.com", later(1))  # another cohort
    buy(a, later(1))
    buy(b, later(7))
    buy(a, later(30))
    buy(c, later(2))  # day 2 counts for none of the three figures

    for days in (0, 1, 2, 7, 30):
        services.summarize_day(later(days))

    cohort = SignupCohort.objects.get(day=DAY)
    assert (cohort.members, cohort.returned_day_1, cohort.returned_day_7, cohort.returned_day_30) == (3, 1, 1, 1)
    rates = selectors.retention(later(31))
    assert rates[1]["rate"] == Decimal("25.0")  # 1 of 3 (DAY) + 0 of 1 (DAY+1): 1 of 4
    assert rates[7]["rate"] == Decimal("33.3")  # only DAY's cohort has a day-7 figure
    assert rates[30]["rate"] == Decimal("33.3")


def test_conversion_is_paid_orders_per_hundred_product_page_views(db, client, sku, buy, shopper):
    for _ in range(8):
        client.get(sku.product.get_absolute_url())
    buy(shopper, datetime.date.today())
    today = selectors.figures.shop_today()

    live = selectors.figures.measure_day(today)
    period = selectors.periods(today, live)[1]

    assert views_counter.views_on(today) == 8 and live.product_views == 8
    assert period.conversion == Decimal("12.5")


def test_periods_add_past_summaries_to_todays_live_figures(day_of_sales, buy, shopper):
    services.summarize_day(DAY)
    buy(shopper, later(3), quantity=2)

    with at(later(3), 20):
        live = selectors.figures.measure_day(later(3))
        periods = selectors.periods(later(3), live)

    assert (periods[1].gmv, periods[1].paid_orders) == (Decimal("20.00"), 1)
    assert (periods[7].gmv, periods[7].paid_orders) == (Decimal("60.00"), 4)
    assert periods[7].aov == Decimal("15.00")
    assert periods[30].refunds == Decimal("5.00")


def test_the_dashboard_shows_the_figures_in_a_bounded_number_of_queries(
    day_of_sales, client, staff, django_assert_max_num_queries
):
    services.summarize_day(DAY)
    client.force_login(staff)

    with at(later(1), 10), django_assert_max_num_queries(40):
        page = client.get(reverse("admin:index"))

    html = page.content.decode()
    assert page.status_code == 200
    assert "¥40.00" in html  # the 7-day GMV, from DAY's summary
    assert page.context["dashboard"]["best_sellers"]["revenue"][0]["revenue"] == Decimal("40.00")


def test_the_query_count_does_not_grow_with_the_days_of_history(db, client, staff, buy, shopper):
    def queries_for_dashboard() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with at(later(40), 10), CaptureQueriesContext(connection) as captured:
            client.get(reverse("admin:index"))
        return len(captured)

    client.force_login(staff)
    services.summarize_day(DAY)
    queries_for_dashboard()  # the first page also reads what later ones find cached
    one_day = queries_for_dashboard()
    for days in range(1, 30):
        buy(shopper, later(days))
        services.summarize_day(later(days))

    assert queries_for_dashboard() == one_day


def test_staff_without_the_figures_permission_see_the_pages_not_the_numbers(db, client, day_of_sales):
    clerk = factories.UserFactory(email="clerk@example.com", is_staff=True)
    client.force_login(clerk)

    page = client.get(reverse("admin:index"))

    assert page.status_code == 200 and "dashboard" not in page.context
    assert "¥40.00" not in page.content.decode()


def test_money_in_other_currencies_is_not_added_to_the_yuan_figures(day_of_sales):
    Order.objects.filter(quantity=1).update(total=Money("1.00", "USD"))

    assert services.summarize_day(DAY).gmv == Decimal("20.00")


def test_a_days_views_survive_their_cache_counter(db, client, sku):
    today = selectors.figures.shop_today()
    for _ in range(3):
        client.get(sku.product.get_absolute_url())
    services.summarize_day(today)

    cache.clear()  # the counter expired, or the cache restarted
    again = services.summarize_day(today)

    assert again.product_views == 3
