"""One migrated test database per run on PostgreSQL, copied for each parallel test process.

Migrating from nothing costs a few seconds of CPU; four pytest-xdist processes doing it at once on two
cores is most of a run's first half minute. Here the first process to get the lock migrates a template
database, and every process (that one included) takes a copy of it with CREATE DATABASE … TEMPLATE,
which PostgreSQL does in a fraction of a second. The template is made again on each run, so a run
never tests an earlier run's schema; `--reuse-db` and single-process runs keep pytest-django's way.
"""

import fcntl
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# The migrated template of this run, once this process has copied it (None: no template this run).
_template: str | None = None


@contextmanager
def _locked(path: Path):
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _warn_if_left(request):
    """A test database that cannot be dropped at the end is a warning, as in pytest-django: the next
    run replaces it."""
    try:
        yield
    except Exception as error:
        request.node.warn(pytest.PytestWarning(f"the test database was not dropped: {error!r}"))


def _template_is_current(connection, name: str, handle, run: str) -> bool:
    handle.seek(0)
    if handle.read().strip() != run:
        return False
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_keepdb, django_db_createdb):
    from django.conf import settings
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases

    connection = connections["default"]
    worker = getattr(request.config, "workerinput", None)
    reuse = django_db_keepdb and not django_db_createdb
    if connection.vendor != "postgresql" or worker is None or reuse:
        # pytest-django's own setup, with the per-process suffix it gives the database name.
        request.getfixturevalue("django_db_modify_db_settings")
        with django_db_blocker.unblock():
            config = setup_databases(verbosity=0, interactive=False, keepdb=reuse)
        yield
        if not reuse:
            with django_db_blocker.unblock(), _warn_if_left(request):
                teardown_databases(config, verbosity=0)
        return

    original = connection.settings_dict["NAME"]
    # test_<NAME>_template: apart from the test_<NAME> that a single-process run creates and drops
    template = f"{connection.creation._get_test_db_name()}_template"
    connection.settings_dict.setdefault("TEST", {})["NAME"] = template
    suffix = worker["workerid"]
    lock = Path(tempfile.gettempdir()) / f"kamen-{template}.lock"
    with django_db_blocker.unblock(), _locked(lock) as handle:
        if not _template_is_current(connection, template, handle, worker["testrunuid"]):
            connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
            connection.close()  # PostgreSQL copies a template only while nobody is connected to it
            handle.seek(0)
            handle.truncate()
            handle.write(worker["testrunuid"])
            handle.flush()
        else:
            connection.settings_dict["NAME"] = template
        connection.creation.clone_test_db(suffix=suffix, verbosity=0, autoclobber=True)
        copy = connection.creation.get_test_db_clone_settings(suffix)["NAME"]
        connection.settings_dict["NAME"] = settings.DATABASES["default"]["NAME"] = copy
        connection.close()
    global _template
    _template = template
    yield
    with django_db_blocker.unblock(), _warn_if_left(request):
        try:
            connection.creation.destroy_test_db(original, verbosity=0)
        except Exception:
            # A connection some test thread left open: this process's own, so ended here.
            with connection._nodb_cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    [copy],
                )
            connection.settings_dict["NAME"] = copy
            connection.creation.destroy_test_db(original, verbosity=0)


def copy_of_migrated_database(name: str) -> str | None:
    """The URL of a new PostgreSQL database `name`, migrated as this run's own, for a server a test
    starts in its own processes; None when this run has no template to copy (migrate one then).

    Copying the template takes a fraction of a second, where migrating from nothing takes a
    process start and every migration."""
    from django.db import connections

    if _template is None:
        return None
    with connections["default"]._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_template}"')
    # The server this run was given, with its options, and the copy's name in place of its database.
    return urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}").geturl()


def drop_database(name: str) -> None:
    from django.db import connections

    with connections["default"]._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
