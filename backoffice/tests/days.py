"""Shop days for the back-office tests: a fixed day, and the clock set to an hour of it in Shanghai."""

import datetime
from zoneinfo import ZoneInfo

import time_machine

from kamen.testing import factories

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = datetime.date(2026, 11, 3)


def at(day: datetime.date, hour: int = 12, minute: int = 0):
    return time_machine.travel(
        datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI), tick=False
    )


def later(days: int) -> datetime.date:
    return DAY + datetime.timedelta(days=days)


def member(email: str, joined: datetime.date):
    with at(joined, 9):
        return factories.UserFactory(email=email)
