"""Money helpers: every amount is CNY, rounded once, half up, to the fen."""

from decimal import ROUND_HALF_UP, Decimal

from djmoney.money import Money

CURRENCY = "CNY"
FEN = Decimal("0.01")


def round_fen(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def cny(amount: Decimal | int | str) -> Money:
    return Money(round_fen(Decimal(amount)), CURRENCY)


def to_fen(money: Money) -> int:
    """Integer fen, as WeChat Pay counts."""
    return int(round_fen(money.amount) * 100)


def yuan_from_fen(fen: int) -> Decimal:
    """An amount in integer fen as yuan with two decimals."""
    return (Decimal(fen) / 100).quantize(FEN)


def parse_yuan(text: str) -> Decimal | None:
    """A gateway amount such as "12.30": exactly two decimals, nothing else, or None."""
    if not isinstance(text, str) or len(text) > 16:
        return None
    whole, dot, fraction = text.partition(".")
    if not (whole.isdigit() and whole.isascii() and dot and len(fraction) == 2 and fraction.isdigit()):
        return None
    return Decimal(text)
