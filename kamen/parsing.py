"""Parsers for values clients send, where a refusal must be a clear answer and never a 500."""

BIGINT_MAX = 2**63 - 1


def parse_id(value: str | None) -> int | None:
    """A database id as a client sends it: ASCII digits within a bigint; None for anything else.

    `str.isdigit()` is also true for "²" or "①", which `int()` refuses, and `int()` accepts
    Arabic-Indic or full-width digits; no page of ours sends either.
    """
    if not value or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 0 < number <= BIGINT_MAX else None
