"""Links in account e-mails point at SITE_URL, whatever Host header the request that caused them carried.

Every host is let through here (`ALLOWED_HOSTS = ["*"]`, as with DEBUG on), so the only thing between
an attacker's Host header and the victim's mailbox is how the shop builds its links.
"""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from kamen.testing import factories

SITE = "https://shop.example.com"
ATTACKER = "attacker.example"


@pytest.fixture(autouse=True)
def every_host_allowed(settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.SITE_URL = SITE


@pytest.fixture
def victim(db):
    user = factories.UserFactory(email="victim@example.com")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


def links(message) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", message.body)


def assert_links_to_the_shop(message) -> None:
    assert links(message), message.body
    assert all(link.startswith(SITE + "/") for link in links(message)), links(message)
    assert ATTACKER not in message.body and ATTACKER not in message.subject


def test_a_password_reset_mail_links_to_the_shop(client, victim):
    client.post(reverse("account_reset_password"), {"email": victim.email}, HTTP_HOST=ATTACKER)

    (message,) = mail.outbox
    assert message.to == [victim.email]
    assert_links_to_the_shop(message)
    assert any("/accounts/password/reset/key/" in link for link in links(message))


def test_the_reset_link_works(client, victim):
    client.post(reverse("account_reset_password"), {"email": victim.email}, HTTP_HOST=ATTACKER)
    link = next(link for link in links(mail.outbox[0]) if "/reset/key/" in link)

    response = client.get(link.removeprefix(SITE), follow=True)

    assert response.status_code == 200 and 'name="password1"' in response.content.decode()


def test_a_reset_for_an_unknown_address_links_to_the_shop(client, db):
    client.post(reverse("account_reset_password"), {"email": "nobody@example.com"}, HTTP_HOST=ATTACKER)

    (message,) = mail.outbox
    assert_links_to_the_shop(message)


def test_a_sign_up_confirmation_mail_links_to_the_shop(client, db):
    client.post(
        reverse("account_signup"),
        {"email": "new@example.com", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
        HTTP_HOST=ATTACKER,
    )

    (message,) = mail.outbox
    assert_links_to_the_shop(message)
    assert any("/accounts/confirm-email/" in link for link in links(message))
