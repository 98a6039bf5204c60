"""The promotion centre's pages: what a reseller sees of their own business, and 404 for anyone else's."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from distribution import selectors, services
from distribution.models import Commission
from kamen.testing import factories

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def business(chain, paid_order):
    """m1 invited m2, who invited m3; m3 bought twice, m2 once."""
    m1, m2, m3 = chain(3)
    sku = factories.SkuFactory(price="50.00", product__title="腾讯视频VIP月卡")
    factories.stock(sku, 10)
    paid_order(sku, quantity=2, user=m3)
    paid_order(sku, quantity=1, user=m3)
    paid_order(sku, quantity=1, user=m2)
    return m1, m2, m3


def test_the_dashboard_shows_earnings_team_chart_and_best_products(client, business, django_assert_max_num_queries):
    m1, m2, m3 = business
    client.force_login(m2)

    with django_assert_max_num_queries(16):
        response = client.get(reverse("distribution:dashboard"))

    page = response.content.decode()
    # m3's ¥100 and ¥50 orders: 10 % each, and the ¥2 reward for the first
    assert "¥17.00" in page
    assert selectors.earnings(m2).total == Decimal("17.00") and selectors.earnings(m2).today == Decimal("17.00")
    assert 'id="earnings-data"' in page and "chart.umd.min.js" in page
    assert "腾讯视频VIP月卡" in page
    assert services.referrer_for(m2).code in page
    assert selectors.downline_counts(m1) == {1: 1, 2: 1, 3: 0}
    daily = selectors.daily_earnings(m2)
    assert len(daily) == 30 and daily[-1][1] == Decimal("17.00") and daily[0][1] == 0


def test_the_team_page_masks_e_mails_and_shows_what_each_bought(client, business):
    m1, m2, m3 = business
    client.force_login(m1)

    level_1 = client.get(reverse("distribution:team")).content.decode()
    level_2 = client.get(reverse("distribution:team"), {"level": "2"}).content.decode()

    assert "m2***@example.com" in level_1 and "m2@example.com" not in level_1
    assert "¥50.00" in level_1  # m2 bought ¥50 in all
    assert "m3***@example.com" in level_2 and "¥150.00" in level_2


def test_another_members_downline_commission_or_withdrawal_is_a_404(client, business, chain):
    m1, m2, m3 = business
    (stranger,) = chain(1, prefix="x")
    commission = Commission.objects.filter(earner=m2).first()
    client.force_login(stranger)

    assert client.get(reverse("distribution:team_member", args=[m3.pk])).status_code == 404
    assert client.get(reverse("distribution:commission", args=[commission.pk])).status_code == 404
    assert client.get(reverse("distribution:team"), {"level": "4"}).status_code == 200  # read as level 1
    client.force_login(m1)
    assert client.get(reverse("distribution:team_member", args=[m3.pk])).status_code == 200  # two below m1
    assert client.get(reverse("distribution:team_member", args=[m1.pk])).status_code == 404  # not below oneself
    client.force_login(m3)
    assert client.get(reverse("distribution:team_member", args=[m2.pk])).status_code == 404  # above, not below


def test_commissions_and_ledger_filter(client, business):
    _, m2, _ = business
    client.force_login(m2)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        services.settle_due_commissions()

    invites = client.get(reverse("distribution:commissions"), {"kind": "invite"}).content.decode()
    settled = client.get(reverse("distribution:ledger"), {"kind": "settled"}).content.decode()
    junk = client.get(reverse("distribution:commissions"), {"kind": "x' OR 1=1", "tier": "9", "state": "\x00"})

    assert invites.count("+¥2.00") == 1 and "+¥10.00" not in invites
    assert settled.count("+¥") == 3
    assert junk.status_code in (200, 400)


def test_signed_out_visitors_are_sent_to_sign_in(client, db):
    for name in ("dashboard", "team", "commissions", "ledger", "withdrawals", "poster"):
        response = client.get(reverse(f"distribution:{name}"))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_qr_and_poster_are_pngs_for_the_members_own_link(client, business):
    import io

    import zxingcpp
    from PIL import Image

    _, m2, _ = business
    client.force_login(m2)
    product = Commission.objects.filter(earner=m2).first().order.sku.product

    qr = client.get(reverse("distribution:invite_qr"))
    poster = client.get(reverse("distribution:poster_png", args=[product.pk]))

    code = services.referrer_for(m2).code
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.content)))
    assert decoded.text.endswith(f"/r/{code}/")
    image = Image.open(io.BytesIO(poster.content))
    assert image.format == "PNG" and image.size == (750, 1334)
    (decoded,) = zxingcpp.read_barcodes(image)
    assert decoded.text.endswith(f"/r/{code}/?p={product.pk}")
    assert client.get(reverse("distribution:poster_png", args=[999999])).status_code == 404


def test_the_next_page_keeps_the_filters(client, chain, paid_order):
    inviter, buyer = chain(2)
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 25)
    for _ in range(21):
        paid_order(sku, quantity=1, user=buyer, deliver=False)
    client.force_login(inviter)

    page = client.get(reverse("distribution:commissions"), {"kind": "sale", "tier": "1"}).content.decode()

    assert "?kind=sale&amp;tier=1&amp;page=2" in page
