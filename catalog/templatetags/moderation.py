"""The review panel on a product's admin page: where it stands, any rule it hits, the last decisions."""

from django import template
from django.urls import reverse

from catalog import moderation, policy, selectors
from catalog.models import Product

register = template.Library()


@register.inclusion_tag("admin/catalog/product/_moderation.html", takes_context=True)
def moderation_panel(context, product: Product) -> dict:
    request = context["request"]
    # After a decision taken in the queue, back to the queue: the product has left it.
    in_queue = context["opts"].model_name == "reviewqueueproduct"
    back = reverse("admin:catalog_reviewqueueproduct_changelist") if in_queue else request.get_full_path()
    return {
        "product": product,
        "hit": policy.check(product),
        "history": selectors.moderation_history(product),
        "can_decide": product.status == Product.Status.PENDING and moderation.may_decide(request.user),
        "csrf_token": context.get("csrf_token"),
        "next": back,
    }
