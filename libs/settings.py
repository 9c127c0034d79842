"""The one settings object, built in each service's main() and passed down."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, frozen=True
    )

    r2_account_id: str = ""
    r2_endpoint_url: str = "http://127.0.0.1:9000"
    r2_bucket_name: str = "cliptrail"
    r2_access_key_id: str = "cliptrail-dev"
    r2_secret_access_key: SecretStr = SecretStr("cliptrail-dev-secret")
    r2_region: str = "auto"
    r2_public_url: str = ""

    nats_url: str = "nats://127.0.0.1:4222"  # a comma-separated list for a cluster
    # This process's NATS identity: an NKey seed file, or a creds file (JWT + seed); TLS files
    # when the server requires TLS (or verifies client certificates).
    nats_nkey_seed_file: Path | None = None
    nats_creds_file: Path | None = None
    nats_tls_ca_file: Path | None = None
    nats_tls_cert_file: Path | None = None
    nats_tls_key_file: Path | None = None
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    mongodb_db: str = "cliptrail"
    auth_jwt_secret: SecretStr = SecretStr("cliptrail-dev-jwt-secret")

    http_host: str = Field("127.0.0.1", validation_alias=_env("CLIPTRAIL_HTTP_HOST"))
    http_port: int = Field(8080, validation_alias=_env("CLIPTRAIL_HTTP_PORT"))
    storage_health_port: int = Field(8081, validation_alias=_env("CLIPTRAIL_STORAGE_HEALTH_PORT"))
    tracking_health_port: int = Field(8082, validation_alias=_env("CLIPTRAIL_TRACKING_HEALTH_PORT"))
    render_health_port: int = Field(8083, validation_alias=_env("CLIPTRAIL_RENDER_HEALTH_PORT"))
    data_dir: Path = Field(Path(".data"), validation_alias=_env("CLIPTRAIL_DATA_DIR"))
    # Uploads and snapshots in flight; storage reads them here, so share it with storage.
    work_dir_override: Path | None = Field(None, validation_alias=_env("CLIPTRAIL_WORK_DIR"))
    catalog_sync: bool = Field(True, validation_alias=_env("CLIPTRAIL_CATALOG_SYNC"))
    embedded: bool = Field(True, validation_alias=_env("CLIPTRAIL_EMBEDDED"))
    max_upload_bytes: int = Field(5368709120, validation_alias=_env("CLIPTRAIL_MAX_UPLOAD_BYTES"))
    presign_ttl_seconds: int = Field(3600, validation_alias=_env("CLIPTRAIL_PRESIGN_TTL_SECONDS"))

    # Isolation: every subject and stream name starts with this (tests give each test its own).
    nats_prefix: str = Field("", validation_alias=_env("CLIPTRAIL_NATS_PREFIX"))
    max_tries: int = Field(8, validation_alias=_env("CLIPTRAIL_MAX_TRIES"))
    retry_base_seconds: float = Field(0.5, validation_alias=_env("CLIPTRAIL_RETRY_BASE_SECONDS"))
    retry_cap_seconds: float = Field(30.0, validation_alias=_env("CLIPTRAIL_RETRY_CAP_SECONDS"))
    ack_wait_seconds: float = Field(60.0, validation_alias=_env("CLIPTRAIL_ACK_WAIT_SECONDS"))
    multipart_part_bytes: int = Field(
        16 * 1024 * 1024, validation_alias=_env("CLIPTRAIL_MULTIPART_PART_BYTES")
    )
    multipart_concurrency: int = Field(4, validation_alias=_env("CLIPTRAIL_MULTIPART_CONCURRENCY"))
    tracking_batch_size: int = Field(200, validation_alias=_env("CLIPTRAIL_TRACKING_BATCH_SIZE"))
    reconcile_grace_seconds: float = Field(
        3600.0, validation_alias=_env("CLIPTRAIL_RECONCILE_GRACE_SECONDS")
    )
    user_quota_bytes: int = Field(0, validation_alias=_env("CLIPTRAIL_USER_QUOTA_BYTES"))
    render_concurrency: int = Field(1, validation_alias=_env("RENDER_CONCURRENCY"))
    render_vertical_size: str = Field("720x1280", validation_alias=_env("RENDER_VERTICAL_SIZE"))
    render_preset: str = Field("veryfast", validation_alias=_env("RENDER_PRESET"))
    # An encode may take this many times the clip's length (at least a minute) before it is killed.
    render_timeout_factor: float = Field(10.0, validation_alias=_env("RENDER_TIMEOUT_FACTOR"))
    log_level: str = Field("info", validation_alias=_env("CLIPTRAIL_LOG_LEVEL"))

    @field_validator(
        "nats_nkey_seed_file",
        "nats_creds_file",
        "nats_tls_ca_file",
        "nats_tls_cert_file",
        "nats_tls_key_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def s3_endpoint(self) -> str:
        if self.r2_account_id:
            return f"https://{self.r2_account_id}.r2.cloudflarestorage.com"
        return self.r2_endpoint_url

    @property
    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def work_dir(self) -> Path:
        return self.work_dir_override or self.data_dir / "work"


def host_port(url: str, default_port: int) -> tuple[str, int]:
    """Host and port of a URL such as nats://h:4222 or mongodb://h:27017/..."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port
