from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField


class UpstreamPurchase(models.Model):
    """One attempt to buy an order's goods from an upstream supplier, under our idempotency key.

    Written as "ordering" and committed before the supplier is called; the answer is applied in a new
    transaction. A new attempt is made only when every earlier one is final without goods ("failed":
    nothing was bought), so an order is never bought twice; the constraints hold that in the database.
    """

    class State(models.TextChoices):
        ORDERING = "ordering", _("Ordering")
        PROCESSING = "processing", _("Accepted, waiting for the supplier")
        UNKNOWN = "unknown", _("No answer; asking the supplier")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed, nothing bought")

    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="purchases", verbose_name=_("order")
    )
    supplier = models.ForeignKey(
        "catalog.Supplier", on_delete=models.PROTECT, related_name="purchases", verbose_name=_("supplier")
    )
    supplier_product = models.ForeignKey(
        "catalog.SupplierProduct", null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("product")
    )
    key = models.CharField(_("our key"), max_length=64, unique=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.ORDERING)
    # Why a failed attempt failed: "refused" (the supplier said no) or "unreachable" (never sent).
    failure = models.CharField(_("failure"), max_length=16, blank=True)
    supplier_order_no = models.CharField(_("supplier's order number"), max_length=64, blank=True)
    expected_cost = MoneyField(_("expected cost"), max_digits=14, decimal_places=2, default_currency="CNY")
    cost = MoneyField(_("charged"), max_digits=14, decimal_places=2, default_currency="CNY", null=True, blank=True)
    message = models.CharField(_("supplier's message"), max_length=300, blank=True)
    queries = models.PositiveSmallIntegerField(_("queries"), default=0)
    next_query_at = models.DateTimeField(_("next query"), null=True, blank=True)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("upstream purchase")
        verbose_name_plural = _("upstream purchases")
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["next_query_at"],
                condition=models.Q(state__in=["processing", "unknown"]),
                name="purchase_due_query",
            ),
        ]
        constraints = [
            # At most one attempt in flight per order, and at most one that delivered.
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(state__in=["ordering", "processing", "unknown"]),
                name="purchase_one_open_per_order",
            ),
            models.UniqueConstraint(
                fields=["order"], condition=models.Q(state="delivered"), name="purchase_one_delivered_per_order"
            ),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def is_open(self) -> bool:
        return self.state in (self.State.ORDERING, self.State.PROCESSING, self.State.UNKNOWN)
