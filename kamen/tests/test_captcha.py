"""The self-hosted proof-of-work check: asked after failed logins or bursts from one address, passed
by a solved challenge, refused when replayed, forged, expired or unsolved; never a 500."""

import hashlib
import re

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from kamen import captcha
from kamen.testing import factories
from orders.models import Order

PASSWORD = "pass-1234-word"


@pytest.fixture(autouse=True)
def _cheap_work(settings):
    settings.CAPTCHA_BITS = 8  # a few hundred hashes: the tests are about the rules, not the cost


def solve(challenge: str) -> str:
    nonce, bits = challenge.split(".")[:2]
    counter = 0
    while captcha.leading_zero_bits(hashlib.sha256(f"{nonce}{counter}".encode()).digest()) < int(bits):
        counter += 1
    return f"{challenge}:{counter}"


def challenge_on(page) -> str:
    found = re.search(r'data-pow-challenge="([^"]+)"', page.content.decode())
    assert found, "no security check on the page"
    return found.group(1)


# ----------------------------------------------------------------------------------- the challenge


def test_a_solved_challenge_passes_once_and_a_replay_fails():
    answer = solve(captcha.issue(captcha.LOGIN))

    assert captcha.verify(captcha.LOGIN, answer)
    assert not captcha.verify(captcha.LOGIN, answer)


def test_a_forged_a_foreign_and_an_unsolved_challenge_fail():
    challenge = captcha.issue(captcha.LOGIN)
    nonce, bits, expires, scope, signature = challenge.split(".")
    easier = f"{nonce}.0.{expires}.{scope}.{signature}"
    unsolved = next(
        f"{challenge}:{n}"
        for n in range(1000)
        if captcha.leading_zero_bits(hashlib.sha256(f"{nonce}{n}".encode()).digest()) < int(bits)
    )

    assert not captcha.verify(captcha.LOGIN, f"{easier}:0")  # difficulty lowered: signature breaks
    assert not captcha.verify(captcha.SIGNUP, solve(challenge))  # issued for login, not sign-up
    assert not captcha.verify(captcha.LOGIN, unsolved)


def test_an_expired_challenge_fails(monkeypatch, settings):
    answer = solve(captcha.issue(captcha.CHECKOUT))
    later = captcha.time.time() + settings.CAPTCHA_TTL_SECONDS + 1
    monkeypatch.setattr(captcha.time, "time", lambda: later)

    assert not captcha.verify(captcha.CHECKOUT, answer)


@pytest.mark.parametrize("junk", ["", ":", "a.b.c.d.e:1", "x" * 5000, "١.٢.٣.٤.٥:٦", "a:b:c", "....:"])
def test_junk_answers_fail_quietly(junk):
    assert not captcha.verify(captcha.LOGIN, junk)


def test_the_check_is_asked_when_the_cache_cannot_count(monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(captcha.cache, "get", down)
    monkeypatch.setattr(captcha.cache, "add", down)

    assert captcha.is_required(captcha.LOGIN, "203.0.113.5")
    captcha.count_attempt(captcha.LOGIN, "203.0.113.5")  # no exception
    assert captcha.verify(captcha.LOGIN, solve(captcha.issue(captcha.LOGIN)))


def test_an_ipv6_network_counts_as_one_address(settings):
    for n in range(settings.CAPTCHA_AFTER["login"]):
        captcha.count_attempt(captcha.LOGIN, f"2001:db8::{n + 1}")

    assert captcha.is_required(captcha.LOGIN, "2001:db8::ffff")
    assert not captcha.is_required(captcha.LOGIN, "2001:db8:1::1")


def test_the_widget_has_no_inline_script_and_says_what_to_do_without_javascript():
    html = captcha.ProofOfWorkWidget(captcha.LOGIN).render("captcha", "")

    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/js/pow.js" defer>']
    assert "<noscript>" in html and "JavaScript" in html


# ------------------------------------------------------------------------------------------- login


@pytest.fixture
def member(db):
    user = factories.UserFactory(email="member@example.com")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


def login(client, password: str, **data):
    return client.post(
        reverse("account_login"),
        {"login": "member@example.com", "password": password, **data},
        REMOTE_ADDR="203.0.113.9",
    )


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_three_failed_logins_from_one_address_ask_for_the_check(client, member, english):
    # given
    assert "data-pow-challenge" not in client.get(reverse("account_login"), REMOTE_ADDR="203.0.113.9").content.decode()
    for attempt in range(3):
        login(client, f"wrong-{attempt}")

    # when: the right password, but no solved check
    refused = login(client, PASSWORD)

    # then
    assert not signed_in(client)
    assert "security check" in refused.content.decode()
    assert login(client, PASSWORD, captcha=solve(challenge_on(refused))).status_code == 302
    assert signed_in(client)


def test_another_address_is_not_asked(client, member):
    for attempt in range(3):
        login(client, f"wrong-{attempt}")

    page = client.get(reverse("account_login"), REMOTE_ADDR="198.51.100.3")

    assert "data-pow-challenge" not in page.content.decode()


def test_a_replayed_solution_does_not_sign_in(client, member):
    for attempt in range(3):
        login(client, f"wrong-{attempt}")
    answer = solve(challenge_on(client.get(reverse("account_login"), REMOTE_ADDR="203.0.113.9")))
    assert captcha.verify(captcha.LOGIN, answer)  # someone used it already

    login(client, PASSWORD, captcha=answer)

    assert not signed_in(client)


# ------------------------------------------------------------------------------------ sign-up, checkout


def sign_up(client, n: int, **data):
    return client.post(
        reverse("account_signup"),
        {"email": f"new{n}@example.com", "password1": PASSWORD, "password2": PASSWORD, **data},
        REMOTE_ADDR="203.0.113.20",
    )


def test_the_sixth_sign_up_from_one_address_needs_the_check(client, db, django_user_model):
    for n in range(5):
        sign_up(client, n)
    assert django_user_model.objects.count() == 5

    refused = sign_up(client, 5)
    assert django_user_model.objects.count() == 5
    sign_up(client, 6, captcha=solve(challenge_on(refused)))

    assert django_user_model.objects.filter(email="new6@example.com").exists()


def test_the_sixth_guest_checkout_from_one_address_needs_the_check(client, db):
    sku = factories.SkuFactory(price="10.00")
    factories.stock(sku, 10)

    def checkout(**data):
        return client.post(
            reverse("orders:place"),
            {
                "sku": sku.pk,
                "quantity": 1,
                "contact_email": "guest@example.com",
                "lookup_password": "pw-1234",
                "payment_method": "sandbox",
                **data,
            },
        )

    assert [checkout().status_code for _ in range(5)] == [302] * 5
    refused = checkout()
    assert refused.status_code == 400 and Order.objects.count() == 5

    assert checkout(captcha=solve(challenge_on(refused))).status_code == 302
    assert Order.objects.count() == 6
