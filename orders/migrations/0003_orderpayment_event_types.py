import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

STATUSES = [
    ("pending_payment", "Pending payment"),
    ("paid", "Paid, delivering"),
    ("awaiting_manual", "Awaiting manual delivery"),
    ("delivered", "Delivered"),
    ("delivery_failed", "Delivery failed"),
    ("cancelled", "Cancelled"),
    ("expired", "Expired"),
]


def link_payments_to_their_orders(apps, schema_editor):
    """Payments used to name their order; the link now lives with the order, and the payment keeps
    only what people read: what it paid for and the order number."""
    Payment = apps.get_model("payments", "Payment")
    OrderPayment = apps.get_model("orders", "OrderPayment")
    for payment in Payment.objects.filter(order__isnull=False).select_related("order").iterator():
        order = payment.order
        OrderPayment.objects.create(order_id=order.pk, payment_id=payment.pk)
        Payment.objects.filter(pk=payment.pk).update(
            description=f"{order.product_title} {order.sku_name} × {order.quantity}"[:128],
            reference=order.number,
            user_id=payment.user_id or order.user_id,
        )
    Payment.objects.filter(purpose="topup", description="").update(description="钱包充值")


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_order_refunds"),
        ("payments", "0003_payment_description_reference"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="OrderPayment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="payment_links", to="orders.order"
                    ),
                ),
                (
                    "payment",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="order_link", to="payments.payment"
                    ),
                ),
            ],
            options={"verbose_name": "order payment", "verbose_name_plural": "order payments"},
        ),
        migrations.RunPython(link_payments_to_their_orders, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="orderevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="by",
            ),
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="time"),
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="data",
            field=models.JSONField(blank=True, default=dict, verbose_name="details"),
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="from_status",
            field=models.CharField(blank=True, choices=STATUSES, max_length=20, verbose_name="status before"),
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="order",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="orders.order",
                verbose_name="order",
            ),
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="to_status",
            field=models.CharField(blank=True, choices=STATUSES, max_length=20, verbose_name="status after"),
        ),
        migrations.AlterField(
            model_name="orderevent",
            name="type",
            field=models.CharField(
                choices=[
                    ("placed", "Placed"),
                    ("paid", "Paid"),
                    ("paid_late", "Paid after it had closed"),
                    ("cancelled", "Cancelled by the buyer"),
                    ("expired", "Expired unpaid"),
                    ("delivered", "Delivered"),
                    ("awaiting_manual", "Waiting for manual delivery"),
                    ("delivered_manually", "Delivered by staff"),
                    ("delivery_failed", "Delivery failed"),
                    ("delivery_retried", "Delivered from stock by staff"),
                    ("refund_requested", "Refund requested"),
                    ("refund_approved", "Refund approved"),
                    ("refund_declined", "Refund declined"),
                    ("refund_failed", "Refund failed at the gateway"),
                    ("refunded", "Refunded"),
                    ("cancelled_refunded", "Closed by a full refund"),
                ],
                max_length=40,
                verbose_name="event",
            ),
        ),
    ]
