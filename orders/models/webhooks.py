from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WebhookDelivery(models.Model):
    """One event told to an API caller's callback URL: a signed POST, retried with back-off until it
    is answered 2xx or the attempts run out. The member sees each with its last answer and can resend."""

    class Event(models.TextChoices):
        DELIVERED = "order.delivered", _("Order delivered")
        FAILED = "order.failed", _("Order failed")

    class State(models.TextChoices):
        PENDING = "pending", _("Sending")
        SENT = "sent", _("Answered")
        FAILED = "failed", _("Gave up")

    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, related_name="webhooks", verbose_name=_("order")
    )
    event = models.CharField(_("event"), max_length=32, choices=Event.choices)
    url = models.URLField(_("callback URL"), max_length=500)
    payload = models.JSONField(_("payload"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # When the next attempt is due; a sending task moves it on first, so no two tasks send at once.
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_status = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_response = models.CharField(_("last answer"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(state="pending"), name="webhook_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.url}"
