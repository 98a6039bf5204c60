import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import payments.purposes


class Migration(migrations.Migration):
    """What a payment is for is told by its purpose; the payment keeps only what people read of it."""

    dependencies = [
        ("payments", "0002_refunds_topups_reconciliation"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="description",
            field=models.CharField(default="", max_length=128, verbose_name="paid for"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="payment",
            name="reference",
            field=models.CharField(blank=True, db_index=True, max_length=40, verbose_name="reference"),
        ),
        migrations.AlterField(
            model_name="payment",
            name="purpose",
            field=models.CharField(choices=payments.purposes.purpose_choices, max_length=16, verbose_name="purpose"),
        ),
        migrations.AlterField(
            model_name="payment",
            name="state",
            field=models.CharField(
                choices=[("pending", "Waiting for the gateway"), ("confirmed", "Confirmed"), ("cancelled", "Closed unpaid")],
                default="pending",
                max_length=16,
                verbose_name="state",
            ),
        ),
        migrations.AlterField(
            model_name="payment",
            name="user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payments",
                to=settings.AUTH_USER_MODEL,
                verbose_name="account",
            ),
        ),
    ]
