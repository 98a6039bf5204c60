from django.db import migrations, models


class Migration(migrations.Migration):
    """Orders now link to their payments (orders.OrderPayment); payments and refunds no longer name an order."""

    dependencies = [
        ("payments", "0003_payment_description_reference"),
        ("orders", "0003_orderpayment_event_types"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="payment", name="payment_pays_an_order_or_a_topup"),
        migrations.RemoveField(model_name="payment", name="order"),
        migrations.RemoveField(model_name="refund", name="order"),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("purpose", "topup"), _negated=True), ("user__isnull", False), _connector="OR"),
                name="payment_topup_has_account",
            ),
        ),
    ]
