"""Real threads for concurrency tests on PostgreSQL."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection

# For a test that holds dozens of database connections at once: such tests run one after another in
# one process, since PostgreSQL's default of 100 connections does not fit two of them side by side.
MANY_CONNECTIONS = pytest.mark.xdist_group("many-connections")


def run_together(calls: list[Callable[[], object]]) -> list[object]:
    """Run each zero-argument callable in its own thread, all released at once by a barrier.

    Returns, in order, what each returned or the exception it raised. Every thread closes its own
    database connection, so the test database can be flushed and dropped afterwards.
    """
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as error:  # collected for the test to assert on
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return outcomes
