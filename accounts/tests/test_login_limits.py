"""One login, one limit: staff sign in through the shop's login, whose failed-attempt limits cover everyone.

allauth allows 5 failed logins per account in 5 minutes (and 10 per address a minute). The admin's
own form used to check passwords with no limit, and the per-account count could be started afresh
by sending each try under another Host port.
"""

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from accounts.second_factor import current_code, give_authenticator
from kamen.testing import factories
from kamen.testing.factories import STAFF_TOTP_SECRET

PASSWORD = "pass-1234-word"


@pytest.fixture
def staff_member(db):
    user = factories.UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def admin_login(client, password: str, number: int = 0):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "ops@example.com", "password": password},
        REMOTE_ADDR=f"198.51.100.{number % 250 + 1}",
    )


def shop_login(client, password: str, number: int = 0, **extra):
    extra.setdefault("REMOTE_ADDR", f"203.0.113.{number % 250 + 1}")
    return client.post(reverse("account_login"), {"login": "ops@example.com", "password": password}, **extra)


def test_twenty_wrong_passwords_then_the_right_one_do_not_sign_staff_in_at_the_admin_form(client, staff_member):
    for attempt in range(20):
        admin_login(client, f"guess-{attempt}", attempt)

    response = admin_login(client, PASSWORD, 99)

    assert not signed_in(client)
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_staff_sign_in_through_the_shop_login_and_land_in_the_admin(client, staff_member):
    to_admin = client.get("/admin/", follow=True)
    assert to_admin.redirect_chain[-1][0].startswith(reverse("account_login"))
    assert "next=%2Fadmin%2F" in to_admin.redirect_chain[-1][0]

    asked = client.post(to_admin.redirect_chain[-1][0], {"login": "ops@example.com", "password": PASSWORD}, follow=True)
    assert not signed_in(client) and asked.redirect_chain[-1][0] == reverse("mfa_authenticate")

    response = client.post(reverse("mfa_authenticate"), {"code": current_code(STAFF_TOTP_SECRET)}, follow=True)

    assert signed_in(client)
    assert response.redirect_chain[-1][0] == "/admin/" and response.status_code == 200


def test_a_wrong_authenticator_code_does_not_sign_staff_in(client, staff_member):
    shop_login(client, PASSWORD)

    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})

    assert not signed_in(client) and response.status_code == 200


def test_guessing_authenticator_codes_is_limited_like_passwords(client, staff_member):
    shop_login(client, PASSWORD)
    for attempt in range(5):
        client.post(reverse("mfa_authenticate"), {"code": f"{attempt:06d}"})

    client.post(reverse("mfa_authenticate"), {"code": current_code(STAFF_TOTP_SECRET)})

    assert not signed_in(client)


def test_staff_without_an_authenticator_are_sent_to_set_one_up_before_any_admin_page(client, db):
    user = factories.UserFactory(email="new-ops@example.com", is_staff=True, is_superuser=True, second_factor=False)
    client.force_login(user)

    for url in ("/admin/", "/admin/orders/order/", "/admin/accounts/user/"):
        response = client.get(url, follow=True)
        chain = [hop for hop, _ in response.redirect_chain]
        assert chain[0].startswith("/admin/login/") and chain[1].startswith(reverse("mfa_activate_totp")), url

    give_authenticator(user, STAFF_TOTP_SECRET)
    assert client.get("/admin/").status_code == 200


def test_the_second_factor_can_be_switched_off_for_a_shop_that_accepts_the_risk(client, db, settings):
    settings.STAFF_REQUIRE_2FA = False
    user = factories.UserFactory(email="new-ops@example.com", is_staff=True, is_superuser=True, second_factor=False)
    client.force_login(user)

    assert client.get("/admin/").status_code == 200


def test_a_lockout_earned_on_the_shop_login_holds_for_the_admin_too(client, staff_member):
    for attempt in range(5):
        shop_login(client, f"guess-{attempt}", attempt)

    admin_login(client, PASSWORD, 50)
    assert not signed_in(client)
    shop_login(client, PASSWORD, 51)
    assert not signed_in(client)


def test_a_new_host_port_per_try_does_not_start_a_fresh_count(client, staff_member, settings):
    for attempt in range(5):
        shop_login(client, f"guess-{attempt}", attempt, HTTP_HOST=f"testserver:{8000 + attempt}")

    shop_login(client, PASSWORD, 60, HTTP_HOST="testserver:9999")

    assert not signed_in(client)


def test_a_signed_in_shopper_gets_the_shops_403_at_the_admin_login(client, shopper):
    client.force_login(shopper)

    response = client.get("/admin/login/")

    assert response.status_code == 403
    assert 'class="logo"' in response.content.decode()
