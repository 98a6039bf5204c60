"""Suppliers' callbacks: verified by their adapter, stored in the log, then only a trigger to ask."""

import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from catalog.models import Supplier
from catalog.suppliers.base import CallbackRejected
from catalog.supply import adapter_of
from kamen.http import client_ip_or_none

from .services.upstream import notify_from_supplier

logger = logging.getLogger("orders.upstream")


@csrf_exempt
@require_POST
def supplier_notify(request: HttpRequest, supplier_id: int) -> HttpResponse:
    supplier = Supplier.objects.filter(pk=supplier_id, enabled=True).first()
    if supplier is None:
        raise Http404
    adapter = adapter_of(supplier)
    try:
        result = adapter.parse_callback(request)
    except CallbackRejected as rejected:
        logger.warning(
            "callback from supplier %s rejected (%s) from %s", supplier, rejected, client_ip_or_none(request)
        )
        return adapter.callback_response(accepted=False)
    purchase = notify_from_supplier(supplier, result)
    if purchase is None:
        logger.warning("callback from supplier %s names no purchase of ours: %s", supplier, result.key)
    return adapter.callback_response(accepted=True)
