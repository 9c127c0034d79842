"""The development JWT secret: random, made on first use, kept in the data dir for next time.

`make run` and `make token` use it when AUTH_JWT_SECRET is not set, so the tokens `make token`
prints are the ones the running stack accepts, and a restart does not invalidate them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from libs.settings import Settings

SECRET_FILE = Path("secrets") / "auth_jwt_secret"
SECRET_BYTES = 48  # 64 characters of urlsafe base64; at least 32 bytes are required


def dev_jwt_secret(data_dir: Path) -> str:
    """The secret under `data_dir`, made (mode 0600) if there is none yet."""
    path = data_dir / SECRET_FILE
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        _create(path, secrets.token_urlsafe(SECRET_BYTES))
    return path.read_text().strip()


def _create(path: Path, secret: str) -> None:
    """Written whole under another name, then linked: a second `make run` starting at the same
    moment either links first or reads the one that did."""
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()


def with_jwt_secret(settings: Settings) -> Settings:
    """Settings with AUTH_JWT_SECRET filled in from the data dir when it is not configured."""
    if settings.auth_jwt_secret.get_secret_value():
        return settings
    secret = SecretStr(dev_jwt_secret(settings.data_dir))
    return settings.model_copy(update={"auth_jwt_secret": secret})
