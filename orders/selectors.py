"""Who may see an order: its signed-in owner, or the guest who holds its secret link or looked it up.

Everyone else gets a 404, never a hint that the order exists.
"""

import hmac

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from accounts.models import User
from catalog.models import CardCode
from payments.models import Payment, Refund

from .models import Order

SESSION_KEY = "kamen_orders"


def grant_session_access(request: HttpRequest, order: Order) -> None:
    """Remember in this browser's session that it proved it is the order's buyer."""
    numbers = request.session.get(SESSION_KEY, [])
    if order.number not in numbers:
        request.session[SESSION_KEY] = [*numbers[-49:], order.number]


def can_view_order(request: HttpRequest, order: Order) -> bool:
    if order.user_id is not None:
        return request.user.is_authenticated and request.user.pk == order.user_id
    return order.number in request.session.get(SESSION_KEY, [])


def get_order_for_viewer(request: HttpRequest, number: str) -> Order:
    order = Order.objects.select_related("sku", "sku__product").filter(number=number).first()
    if order is None or not can_view_order(request, order):
        raise Http404
    return order


def get_order_by_secret(request: HttpRequest, number: str, token: str) -> Order:
    """The order behind a secret link (the e-mailed one); 404 unless the token matches.

    A guest's order is then opened in this session. A member's order still needs that member signed
    in: the caller sends a signed-out visitor to log in, and another member gets a 404 here.
    """
    order = Order.objects.filter(number=number).first()
    # As bytes: compare_digest refuses str with non-ASCII characters, and a link can carry any.
    if order is None or not hmac.compare_digest(order.access_token.encode(), token.encode()):
        raise Http404
    if order.user_id is None:
        grant_session_access(request, order)
    elif request.user.is_authenticated and request.user.pk != order.user_id:
        raise Http404
    return order


def find_order_for_lookup(*, number: str, contact_email: str, lookup_password: str) -> Order | None:
    """Guest lookup: number, contact e-mail and lookup password must all match."""
    order = Order.objects.filter(number=number.strip(), user=None).first()
    if order is None:
        return None
    if order.contact_email.lower() != contact_email.strip().lower():
        return None
    if not order.check_lookup_password(lookup_password):
        return None
    return order


def delivered_codes(order: Order) -> list[dict[str, str]]:
    """Plaintext codes of a delivered order, for its buyer's eyes only (callers check access first)."""
    if order.status != Order.Status.DELIVERED:
        return []
    codes = CardCode.objects.filter(order=order, status__in=[CardCode.Status.SOLD, CardCode.Status.VOID]).order_by("id")
    return [
        {"card_no": code.card_no, "secret": code.secret, "void": code.status == CardCode.Status.VOID} for code in codes
    ]


def orders_of_user(user: User, *, page: int) -> Page:
    return Paginator(Order.objects.filter(user=user).order_by("-created_at", "-id"), 20).get_page(page)


def payments_of(order: Order) -> QuerySet[Payment]:
    """Every payment attempt of `order`."""
    return Payment.objects.filter(order_link__order=order)


def latest_payment(order: Order) -> Payment | None:
    return payments_of(order).order_by("-id").first()


def confirmed_payment(order: Order) -> Payment | None:
    """The payment that paid `order` (the latest confirmed one), or None."""
    return payments_of(order).filter(state=Payment.State.CONFIRMED).order_by("-id").first()


def order_of_payment(payment_id: int) -> Order:
    return Order.objects.get(payment_links__payment_id=payment_id)


def refunds_of(order: Order) -> QuerySet[Refund]:
    return Refund.objects.filter(payment__order_link__order=order).select_related("payment")
