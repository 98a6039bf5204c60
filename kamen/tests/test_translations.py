"""The Chinese shop speaks Chinese: every string of ours is translated, and so are the third-party ones people meet."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

CATALOG = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def untranslated(po_text: str) -> list[str]:
    """msgids of entries (not the header, not obsolete ones) that are fuzzy or have an empty translation."""
    missing = []
    for entry in po_text.split("\n\n")[1:]:
        lines = [line for line in entry.strip().splitlines() if not line.startswith("#~")]
        if not lines:
            continue
        msgid = re.search(r'^msgid "(.*)"', "\n".join(lines), re.M)
        strings = re.findall(r'^msgstr(?:\[\d\])? "(.*)"((?:\n".*")*)', "\n".join(lines), re.M)
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        if msgid and (fuzzy or any(not (first + rest.replace('"', "").strip()) for first, rest in strings)):
            missing.append(msgid.group(1))
    return missing


def test_every_string_of_the_shop_has_its_chinese():
    assert untranslated(CATALOG.read_text()) == []


@pytest.mark.django_db
def test_sign_up_explains_a_short_password_in_chinese(client):
    response = client.post(reverse("account_signup"), {"email": "new@example.com", "password1": "1", "password2": "1"})

    html = response.content.decode()
    assert "密码太短，至少需要 8 个字符。" in html
    assert "too short" not in html


def test_the_order_log_and_payment_lines_in_admin_read_in_chinese(client, staff, paid_order, sku):
    order = paid_order(sku, 1)
    client.force_login(staff)

    html = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert "原状态" in html and "新状态" in html and "操作人" in html
    assert "下单" in html and "待支付" in html
    assert "模拟支付" in html
    assert "pending_payment" not in html.replace('value="pending_payment"', "")
    assert ">sandbox<" not in html
