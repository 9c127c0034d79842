"""The one settings object, built in each service's main() and passed down."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.media.limits import MediaLimits


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
    # Empty: HS256 tokens are not accepted (`make run` generates one, see deploy/devsecret.py).
    auth_jwt_secret: SecretStr = SecretStr("")
    auth_jwt_issuer: str = ""
    auth_jwt_audience: str = ""
    auth_jwks_url: str = ""
    # A token with an unknown `kid` refetches the key set at most this often (key rotation).
    auth_jwks_min_refresh_seconds: float = 10.0

    http_host: str = Field("127.0.0.1", validation_alias=_env("CLIPTRAIL_HTTP_HOST"))
    http_port: int = Field(8080, validation_alias=_env("CLIPTRAIL_HTTP_PORT"))
    storage_health_port: int = Field(8081, validation_alias=_env("CLIPTRAIL_STORAGE_HEALTH_PORT"))
    tracking_health_port: int = Field(8082, validation_alias=_env("CLIPTRAIL_TRACKING_HEALTH_PORT"))
    render_health_port: int = Field(8083, validation_alias=_env("CLIPTRAIL_RENDER_HEALTH_PORT"))
    data_dir: Path = Field(Path(".data"), validation_alias=_env("CLIPTRAIL_DATA_DIR"))
    catalog_sync: bool = Field(True, validation_alias=_env("CLIPTRAIL_CATALOG_SYNC"))
    embedded: bool = Field(True, validation_alias=_env("CLIPTRAIL_EMBEDDED"))
    max_upload_bytes: int = Field(5368709120, validation_alias=_env("CLIPTRAIL_MAX_UPLOAD_BYTES"))
    presign_ttl_seconds: int = Field(3600, validation_alias=_env("CLIPTRAIL_PRESIGN_TTL_SECONDS"))
    # Refused with 422 (and never rendered): more pixels than this area, longer, or above 240 fps.
    max_video_pixels: str = Field("3840x2160", validation_alias=_env("CLIPTRAIL_MAX_VIDEO_PIXELS"))
    max_video_seconds: float = Field(
        4 * 3600.0, validation_alias=_env("CLIPTRAIL_MAX_VIDEO_SECONDS")
    )

    # Isolation: every subject and stream name starts with this (tests give each test its own).
    nats_prefix: str = Field("", validation_alias=_env("CLIPTRAIL_NATS_PREFIX"))
    # Copies of each stream kept by a NATS cluster (1 on a single server, 3 on a 3-node cluster).
    stream_replicas: int = Field(1, ge=1, le=5, validation_alias=_env("CLIPTRAIL_STREAM_REPLICAS"))
    max_tries: int = Field(8, validation_alias=_env("CLIPTRAIL_MAX_TRIES"))
    retry_base_seconds: float = Field(0.5, validation_alias=_env("CLIPTRAIL_RETRY_BASE_SECONDS"))
    retry_cap_seconds: float = Field(30.0, validation_alias=_env("CLIPTRAIL_RETRY_CAP_SECONDS"))
    ack_wait_seconds: float = Field(60.0, validation_alias=_env("CLIPTRAIL_ACK_WAIT_SECONDS"))
    # Messages a consumer hands out unsettled, across all replicas of its service.
    max_ack_pending: int = Field(256, ge=1, validation_alias=_env("CLIPTRAIL_MAX_ACK_PENDING"))
    # Copies of each stream and KV bucket bootstrap creates (3 on a three-node NATS cluster).
    # How long and how much the dead-letter stream keeps (0: no limit); set at creation only.
    deadletter_max_age_seconds: float = Field(
        30 * 86400.0, ge=0, validation_alias=_env("CLIPTRAIL_DEADLETTER_MAX_AGE_SECONDS")
    )
    deadletter_max_bytes: int = Field(
        1024**3, ge=0, validation_alias=_env("CLIPTRAIL_DEADLETTER_MAX_BYTES")
    )
    # A replica writing a user's catalog holds a lease; it lapses this long after its holder
    # stops renewing it (a crashed replica blocks that user's writes at most this long).
    catalog_lease_seconds: float = Field(
        10.0, ge=1.0, validation_alias=_env("CLIPTRAIL_CATALOG_LEASE_SECONDS")
    )
    # Every part of a multipart upload but the last has this size (R2 requires equal parts).
    # The smallest R2 takes: an upload holds part bytes x (concurrency + 1) in memory.
    multipart_part_bytes: int = Field(
        5 * 1024 * 1024, ge=5 * 1024 * 1024, validation_alias=_env("CLIPTRAIL_MULTIPART_PART_BYTES")
    )
    # Parts in flight per upload: memory is about part bytes x (this + 1).
    multipart_concurrency: int = Field(
        2, ge=1, validation_alias=_env("CLIPTRAIL_MULTIPART_CONCURRENCY")
    )
    # How long a presigned PUT or UploadPart URL lives: one transfer's worth, not an hour.
    transfer_ttl_seconds: int = Field(
        900, ge=60, validation_alias=_env("CLIPTRAIL_TRANSFER_TTL_SECONDS")
    )
    # Multipart uploads begun longer ago than this are aborted by storage's sweep, every so often.
    multipart_abandoned_seconds: float = Field(
        86400.0, validation_alias=_env("CLIPTRAIL_MULTIPART_ABANDONED_SECONDS")
    )
    # A resumable (tus) upload not finished this long after its creation is swept (keep it
    # under CLIPTRAIL_MULTIPART_ABANDONED_SECONDS); a PATCH holds its upload this long, renewed.
    tus_expiry_seconds: float = Field(
        43200.0, gt=0, validation_alias=_env("CLIPTRAIL_TUS_EXPIRY_SECONDS")
    )
    tus_lease_seconds: float = Field(
        30.0, gt=0, validation_alias=_env("CLIPTRAIL_TUS_LEASE_SECONDS")
    )
    tus_sweep_seconds: float = Field(
        300.0, gt=0, validation_alias=_env("CLIPTRAIL_TUS_SWEEP_SECONDS")
    )
    multipart_sweep_seconds: float = Field(
        600.0, gt=0, validation_alias=_env("CLIPTRAIL_MULTIPART_SWEEP_SECONDS")
    )
    tracking_batch_size: int = Field(1000, validation_alias=_env("CLIPTRAIL_TRACKING_BATCH_SIZE"))
    reconcile_grace_seconds: float = Field(
        3600.0, validation_alias=_env("CLIPTRAIL_RECONCILE_GRACE_SECONDS")
    )
    user_quota_bytes: int = Field(0, validation_alias=_env("CLIPTRAIL_USER_QUOTA_BYTES"))
    render_concurrency: int = Field(1, validation_alias=_env("RENDER_CONCURRENCY"))
    # Videos being rendered at once across all render replicas (the consumer's max_ack_pending).
    render_max_in_flight: int = Field(4, ge=1, validation_alias=_env("RENDER_MAX_IN_FLIGHT"))
    render_vertical_size: str = Field("720x1280", validation_alias=_env("RENDER_VERTICAL_SIZE"))
    render_preset: str = Field("veryfast", validation_alias=_env("RENDER_PRESET"))
    # An encode may take this many times the clip's length (at least a minute) before it is killed.
    render_timeout_factor: float = Field(10.0, validation_alias=_env("RENDER_TIMEOUT_FACTOR"))
    # Address space each ffmpeg process may take (RLIMIT_AS); past it the render fails.
    render_ffmpeg_memory_bytes: int = Field(
        1536 * 1024 * 1024, validation_alias=_env("RENDER_FFMPEG_MEMORY_BYTES")
    )
    # Fair use, per user and per ingest replica: requests per second (0: unlimited), the burst
    # above that rate, and uploads at once (0: unlimited).
    rate_per_second: float = Field(50.0, validation_alias=_env("CLIPTRAIL_RATE_PER_SECOND"))
    rate_burst: int = Field(200, validation_alias=_env("CLIPTRAIL_RATE_BURST"))
    max_concurrent_uploads: int = Field(
        4, validation_alias=_env("CLIPTRAIL_MAX_CONCURRENT_UPLOADS")
    )
    log_level: str = Field("info", validation_alias=_env("CLIPTRAIL_LOG_LEVEL"))
    # Off: no per-request metrics, spans or access lines (the benchmark's baseline).
    telemetry: bool = Field(True, validation_alias=_env("CLIPTRAIL_TELEMETRY"))
    # Set: spans are exported there over OTLP/HTTP; empty: not exported at all.
    otlp_endpoint: str = Field("", validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT"))

    @field_validator("max_video_pixels")
    @classmethod
    def _pixels(cls, value: str) -> str:
        MediaLimits.parse(value, 0.0)
        return value

    @property
    def media_limits(self) -> MediaLimits:
        return MediaLimits.parse(self.max_video_pixels, self.max_video_seconds)

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

    def scratch_dir(self, service: str) -> Path:
        """A service's own scratch: no other service reads or writes it."""
        return self.data_dir / service


def host_port(url: str, default_port: int) -> tuple[str, int]:
    """Host and port of a URL such as nats://h:4222 or mongodb://h:27017/..."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port
