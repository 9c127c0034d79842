"""`make run`'s JWT secret: made once at random (0600, under secrets/), then reused."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from deploy.devsecret import SECRET_FILE, dev_jwt_secret, with_jwt_secret
from libs.settings import Settings
from libs.web.auth import MIN_SECRET_BYTES, Authenticator, TokenRules

ROOT = Path(__file__).resolve().parents[2]


def test_the_first_call_makes_a_private_random_secret(tmp_path: Path) -> None:
    secret = dev_jwt_secret(tmp_path)
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(base64.urlsafe_b64decode(secret + "==")) >= MIN_SECRET_BYTES
    assert path.read_text() == secret
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no draft left behind


def test_the_next_calls_reuse_it(tmp_path: Path) -> None:
    assert dev_jwt_secret(tmp_path) == dev_jwt_secret(tmp_path)


def test_each_data_dir_gets_its_own(tmp_path: Path) -> None:
    assert dev_jwt_secret(tmp_path / "a") != dev_jwt_secret(tmp_path / "b")


def test_a_configured_secret_wins(tmp_path: Path) -> None:
    configured = Settings(_env_file=None, data_dir=tmp_path, auth_jwt_secret=SecretStr("x" * 40))
    assert with_jwt_secret(configured) is configured
    assert not (tmp_path / SECRET_FILE).exists()
    generated = with_jwt_secret(Settings(_env_file=None, data_dir=tmp_path))
    assert generated.auth_jwt_secret.get_secret_value() == dev_jwt_secret(tmp_path)


async def test_make_token_signs_with_the_generated_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AUTH_JWT_SECRET"}
    env |= {"CLIPTRAIL_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "deploy.token", "alice"]
    run = await asyncio.to_thread(
        subprocess.run, argv, env=env, cwd=tmp_path, capture_output=True, check=True
    )
    token = run.stdout
    auth = Authenticator(TokenRules(dev_jwt_secret(tmp_path)))
    principal = await auth.authenticate(f"Bearer {token.decode().strip()}")
    assert principal.user_id == "alice"
