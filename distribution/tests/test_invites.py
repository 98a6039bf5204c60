"""Invitations: binding once and forever, refusals that leave the tree unchanged, races, and the
invite link that a new member signs up through."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.services import confirm_email
from distribution import services
from distribution.cookies import DEVICE_COOKIE, INVITE_COOKIE
from distribution.models import Referrer, Sighting
from kamen.testing import factories
from kamen.testing.threads import run_together

pytestmark = pytest.mark.usefixtures("english")


def tree(*members) -> list[tuple]:
    return [
        tuple(Referrer.objects.filter(user=m).values_list("inviter", "upline_2", "upline_3").first() or ())
        for m in members
    ]


def code_of(user) -> str:
    return services.referrer_for(user).code


def test_a_chain_keeps_three_levels_above_each_member(chain):
    m1, m2, m3, m4, m5 = chain(5)

    assert tree(m5, m4, m2, m1) == [
        (m4.pk, m3.pk, m2.pk),
        (m3.pk, m2.pk, m1.pk),
        (m1.pk, None, None),
        (None, None, None),
    ]


@pytest.mark.parametrize("case", ["self", "again", "downline", "deep downline", "unknown"])
def test_refused_bindings_leave_the_tree_unchanged(chain, case):
    m1, m2, m3, m4, m5 = chain(5)
    outsider = factories.UserFactory()
    member, code = {
        "self": (outsider, code_of(outsider)),
        "again": (m3, code_of(outsider)),
        "downline": (m1, code_of(m2)),
        "deep downline": (m1, code_of(m5)),
        "unknown": (outsider, "ZZZZZZZZ"),
    }[case]
    before = tree(m1, m2, m3, m4, m5, outsider)

    with pytest.raises(services.InviteRefused):
        services.bind_inviter(member, code)

    assert tree(m1, m2, m3, m4, m5, outsider) == before


def test_a_member_without_an_inviter_binds_later_and_their_downline_moves_along(chain):
    a, b, c = chain(3, prefix="down")  # a invited b, b invited c
    top, middle = chain(2, prefix="up")

    services.bind_inviter(a, code_of(middle))

    assert tree(a, b, c) == [(middle.pk, top.pk, None), (a.pk, middle.pk, top.pk), (b.pk, a.pk, middle.pk)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_members_binding_each_other_at_once_make_no_cycle():
    a = factories.UserFactory(email="a@example.com")
    b = factories.UserFactory(email="b@example.com")
    code_a, code_b = code_of(a), code_of(b)

    outcomes = run_together([lambda: services.bind_inviter(a, code_b), lambda: services.bind_inviter(b, code_a)])

    assert sum(isinstance(o, services.InviteRefused) for o in outcomes) == 1
    bound = Referrer.objects.exclude(inviter=None).get()
    assert bound.upline() in ([b.pk], [a.pk])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_invitees_racing_for_one_invite_both_bind_once():
    inviter = factories.UserFactory(email="boss@example.com")
    one, two = factories.UserFactory(email="one@example.com"), factories.UserFactory(email="two@example.com")
    code = code_of(inviter)

    outcomes = run_together([lambda: services.bind_inviter(one, code), lambda: services.bind_inviter(two, code)])
    again = run_together([lambda: services.bind_inviter(one, code), lambda: services.bind_inviter(one, code)])

    assert all(isinstance(o, Referrer) for o in outcomes)
    assert all(isinstance(o, services.InviteRefused) for o in again)
    assert set(Referrer.objects.filter(inviter=inviter).values_list("user", flat=True)) == {one.pk, two.pk}


def test_signing_up_through_an_invite_link_binds_the_inviter_and_gives_the_coupon(client, db):
    inviter = factories.UserFactory(email="boss@example.com")
    code = code_of(inviter)

    landing = client.get(reverse("distribution:invite", args=[code]))
    assert landing.status_code == 302
    assert client.cookies[INVITE_COOKIE].value == code and client.cookies[DEVICE_COOKIE].value
    client.post(
        reverse("account_signup"),
        {"email": "new@example.com", "password1": "a-long-pass-1234", "password2": "a-long-pass-1234"},
    )

    member = Referrer.objects.select_related("user").get(user__email="new@example.com")
    assert member.inviter == inviter and member.signup_ip == "127.0.0.1" and not member.flag
    assert Sighting.objects.filter(user=member.user).exclude(device="").exists()
    grant = member.user.coupon_grants.get()
    assert grant.coupon.amount_off.amount == Decimal("5.00") and grant.coupon.kind == "no_threshold"


def test_signing_up_in_the_inviters_browser_is_flagged(client, db):
    inviter = factories.UserFactory(email="boss@example.com")
    confirm_email(inviter)
    client.post(reverse("account_login"), {"login": "boss@example.com", "password": "pass-1234-word"})
    client.post(reverse("account_logout"))
    client.get(reverse("distribution:invite", args=[code_of(inviter)]))  # their own link, signed out

    client.post(
        reverse("account_signup"),
        {"email": "alt@example.com", "password1": "a-long-pass-1234", "password2": "a-long-pass-1234"},
    )

    member = Referrer.objects.get(user__email="alt@example.com")
    assert member.inviter == inviter and "device" in member.flag
    assert not member.user.coupon_grants.exists()


def test_an_unknown_invite_code_just_leads_to_the_shop(client, db):
    response = client.get(reverse("distribution:invite", args=["NOPE2345"]))

    assert response.status_code == 302 and INVITE_COOKIE not in response.cookies


def test_a_member_binds_an_inviter_from_the_dashboard_once(client, chain):
    inviter, other = chain(1)[0], factories.UserFactory(email="other@example.com")
    member = factories.UserFactory(email="late@example.com")
    client.force_login(member)

    client.post(reverse("distribution:bind"), {"code": code_of(inviter).lower()})
    response = client.post(reverse("distribution:bind"), {"code": code_of(other)}, follow=True)

    assert Referrer.objects.get(user=member).inviter == inviter
    assert "already set" in response.content.decode()


@pytest.mark.parametrize(("address", "flagged"), [("198.51.100.7", True), ("127.0.0.1", False)])
def test_an_invitee_from_the_inviters_address_is_flagged_but_loopback_is_no_sign(db, address, flagged):
    inviter = factories.UserFactory(email="boss@example.com")
    services.record_sighting(inviter, device="", ip=address)
    invitee = factories.UserFactory(email="new@example.com")

    member = services.join(invitee, invite_code=code_of(inviter), device="another-phone", ip=address)

    assert member.inviter == inviter
    assert ("address" in member.flag) is flagged


def test_signing_in_on_a_downline_members_device_flags_them(chain):
    top, middle, bottom = chain(3)
    services.record_sighting(bottom, device="shared-phone", ip=None)

    services.record_sighting(top, device="shared-phone", ip=None)  # the reseller, on the same phone

    assert Referrer.objects.get(user=bottom).flag and not Referrer.objects.get(user=middle).flag
    assert not Referrer.objects.get(user=top).flag
