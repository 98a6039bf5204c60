"""Sign-up answers alike whether or not an e-mail has an account; the address's owner is told by mail.

A new account confirms its address by the mailed link before it signs in, which is what lets allauth
give a taken address the same answer as a new one. The demo logins from `seed_demo` and staff made
with `createsuperuser` are confirmed already and sign in at once.
"""

import re
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from accounts.second_factor import DEMO_TOTP_SECRET, current_code
from kamen.testing import factories

PASSWORD = "a-long-pass-phrase-9"


def sign_up(client, email: str):
    return client.post(
        reverse("account_signup"), {"email": email, "password1": PASSWORD, "password2": PASSWORD}, follow=True
    )


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def answer(response, email: str) -> tuple:
    """What a visitor can see of the answer, with the address they typed blanked out."""
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    return response.status_code, response.redirect_chain, page.replace(email, "EMAIL")


def link_in(message) -> str:
    """The path of the first link in a mail."""
    return urlsplit(re.search(r"https?://\S+", message.body).group(0)).path


@pytest.fixture
def member(db):
    return factories.UserFactory(email="member@example.com")


def test_a_taken_address_gets_the_same_answer_as_a_new_one(client, member, django_user_model):
    taken = sign_up(client, "member@example.com")
    client.logout()
    new = sign_up(client, "newcomer@example.com")

    assert answer(taken, "member@example.com") == answer(new, "newcomer@example.com")
    assert "已被注册" not in taken.content.decode() and "already" not in taken.content.decode()
    assert django_user_model.objects.filter(email="member@example.com").count() == 1
    assert not signed_in(client)


def test_the_owner_of_a_taken_address_is_told_by_mail(client, member):
    sign_up(client, "member@example.com")

    (message,) = mail.outbox
    assert message.to == ["member@example.com"]
    assert "/accounts/password/reset/" in message.body
    assert "/accounts/confirm-email/" not in message.body


def test_a_new_account_signs_in_once_its_address_is_confirmed(client, db):
    sign_up(client, "newcomer@example.com")
    assert not signed_in(client)
    client.post(reverse("account_login"), {"login": "newcomer@example.com", "password": PASSWORD})
    assert not signed_in(client)  # unconfirmed: a new confirmation mail, no session

    confirm = link_in(mail.outbox[-1])
    client.post(confirm)
    client.post(reverse("account_login"), {"login": "newcomer@example.com", "password": PASSWORD})

    assert signed_in(client)
    assert User.objects.get(email="newcomer@example.com").emailaddress_set.get().verified


def test_the_demo_logins_sign_in_at_once(client, db):
    call_command("seed_demo", codes_per_sku=1, stdout=StringIO())

    client.post(reverse("account_login"), {"login": "shopper@kamen.local", "password": "kamen-shop-2026"})
    assert signed_in(client)
    client.logout()
    asked = client.post(
        reverse("account_login") + "?next=/admin/",
        {"login": "admin@kamen.local", "password": "kamen-admin-2026"},
        follow=True,
    )
    assert asked.redirect_chain[-1][0] == reverse("mfa_authenticate")  # the demo staff login has 2FA on
    response = client.post(reverse("mfa_authenticate"), {"code": current_code(DEMO_TOTP_SECRET)}, follow=True)
    assert signed_in(client) and response.redirect_chain[-1][0] == "/admin/"


def test_staff_made_with_createsuperuser_sign_in_at_once(client, db):
    User.objects.create_superuser("boss@example.com", PASSWORD)

    client.post(reverse("account_login"), {"login": "boss@example.com", "password": PASSWORD})

    assert signed_in(client)
