"""Secrets for a run that configures none: made at random on the first start, kept in a local file.

Outside production the shop must start with nothing set, yet no key may be one that anybody can read
in the source: a constant SECRET_KEY would let a reader of the code sign sessions and sandbox
notifications, and decrypt a database dump of card codes. So the first start writes random keys to
a git-ignored file (mode 0600) and every later start reads the same file, so codes encrypted
yesterday still decrypt today. Its lines are `NAME=value`, the form an environment file takes, so
they can be moved into a deployment's environment as they are.

Production never reads or writes the file: it refuses to start unless the environment holds its keys.
"""

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

NAMES = ("SECRET_KEY", "CARD_CODE_KEYS", "CARD_CODE_FINGERPRINT_KEY", "SANDBOX_SIGNING_KEY")


def generate() -> dict[str, str]:
    """Fresh random values for every name in NAMES."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CARD_CODE_KEYS": Fernet.generate_key().decode(),
        "CARD_CODE_FINGERPRINT_KEY": secrets.token_urlsafe(32),
        "SANDBOX_SIGNING_KEY": secrets.token_urlsafe(32),
    }


def load_or_create(path: Path) -> dict[str, str]:
    """The secrets kept in `path`, written there first with fresh random values if the file is missing.

    Several processes may start at once (gunicorn workers, a Celery worker, `manage.py`): the file
    is written under a temporary name and linked into place, which fails for all but the first, and
    every process then reads the one that won.
    """
    if not path.exists():
        _create(path, generate())
    values = _read(path)
    missing = [name for name in NAMES if not values.get(name)]
    if missing:
        raise ImproperlyConfigured(
            f"{path} lacks {', '.join(missing)}. Add the line(s) or set them in the environment; "
            "never delete the file while the database holds card codes encrypted with its keys."
        )
    return values


def _create(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as draft_file:
            draft_file.write("# Made at random on the first start. Keep it with the database; never commit it.\n")
            draft_file.writelines(f"{name}={value}\n" for name, value in values.items())
            draft_file.flush()
            os.fsync(draft_file.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: its keys are the ones to use
            os.link(draft, path)
    finally:
        draft.unlink()


def _read(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values
