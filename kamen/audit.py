"""The audit log of staff actions: one function writes a row, in the transaction of the change it records."""

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from kamen.models import StaffAction

Kind = StaffAction.Kind


def record(
    kind: str,
    *,
    actor,
    target: models.Model | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    note: str = "",
    ip: str | None = None,
) -> StaffAction:
    """Write one audit row. Call it inside the atomic block that makes the change, so both land or neither."""
    return StaffAction.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        kind=kind,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:200] if target is not None else "",
        before=_plain(before or {}),
        after=_plain(after or {}),
        note=note[:500],
        ip=ip or None,
    )


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of `obj` as JSON-ready values, to pass as `before` or `after`."""
    return _plain({name: getattr(obj, name) for name in fields})


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict, dict]:
    """Only the fields whose values differ, from both sides: what an audit row of an edit keeps."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _plain_value(value) for key, value in values.items()}


def _plain_value(value: Any) -> Any:
    # Money prints with its currency ("¥9.50") and compares by amount; JSON keeps the amount and currency.
    if hasattr(value, "amount") and hasattr(value, "currency"):
        return f"{value.amount} {value.currency}"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return [_plain_value(item) for item in value]
    return value
