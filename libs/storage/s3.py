"""The real object store: aiobotocore against R2 or any S3-compatible server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from libs.errors import ConflictError, PermanentError, TransientError
from libs.observability.metrics import MULTIPART_IN_FLIGHT, timed_transfer
from libs.settings import Settings
from libs.storage.objects import StoredObject
from libs.storage.objectstore import (
    MAX_DELETE_BATCH,
    DeleteOutcome,
    ListPage,
    PutCondition,
)

T = TypeVar("T")
_TRANSIENT_CODES = {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"}


@dataclass(frozen=True)
class UploadTuning:
    part_bytes: int = 16 * 1024 * 1024
    concurrency: int = 4


def s3_config() -> AioConfig:
    """R2 and the local stand-ins break on botocore's default checksum trailers."""
    return AioConfig(
        signature_version="s3v4",
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
    )


@contextlib.asynccontextmanager
async def s3_client(settings: Settings) -> AsyncIterator[Any]:
    session = get_session()
    async with session.create_client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.r2_region,
        aws_access_key_id=settings.r2_access_key_id,
        aws_secret_access_key=settings.r2_secret_access_key.get_secret_value(),
        config=s3_config(),
    ) as client:
        yield client


def classify(operation: str, exc: ClientError) -> TransientError | PermanentError:
    """5xx, throttling and timeouts are transient; 412 is a lost conditional write; any other
    4xx is permanent."""
    error = exc.response.get("Error", {})
    status = http_status(exc)
    message = f"{operation}: {error.get('Code')} {error.get('Message', '')}".strip()
    if status == 412:
        return ConflictError(message)
    if status >= 500 or status in (408, 429) or error.get("Code") in _TRANSIENT_CODES:
        return TransientError(message)
    return PermanentError(message)


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


async def s3_call(operation: str, call: Awaitable[T]) -> T:
    """Await an S3 call, mapping its failures onto the error root."""
    try:
        return await call
    except ClientError as exc:
        raise classify(operation, exc) from exc
    except (BotoCoreError, OSError, TimeoutError) as exc:
        raise TransientError(f"{operation}: {exc!r}") from exc


def _md5_b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _read_part(path: Path, offset: int, length: int) -> tuple[bytes, bytes]:
    """A part of a file and its MD5, read and hashed off the event loop."""
    fd = os.open(path, os.O_RDONLY)
    try:
        body = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    return body, hashlib.md5(body).digest()


class S3ObjectStore:
    def __init__(
        self, client: Any, bucket: str, public_url: str = "", tuning: UploadTuning | None = None
    ) -> None:
        self._s3 = client
        self.bucket = bucket
        self._public_url = public_url.rstrip("/")
        self._tuning = tuning or UploadTuning()

    async def ensure_bucket(self) -> None:
        try:
            await self._s3.head_bucket(Bucket=self.bucket)
        except ClientError:
            await s3_call("CreateBucket", self._s3.create_bucket(Bucket=self.bucket))

    async def ping(self) -> None:
        await s3_call("HeadBucket", self._s3.head_bucket(Bucket=self.bucket))

    async def head(self, key: str) -> StoredObject | None:
        try:
            reply = await s3_call("HeadObject", self._s3.head_object(Bucket=self.bucket, Key=key))
        except PermanentError as exc:
            if isinstance(exc.__cause__, ClientError) and http_status(exc.__cause__) == 404:
                return None
            raise
        return StoredObject(
            key=key,
            size=int(reply["ContentLength"]),
            etag=reply["ETag"].strip('"'),
            content_type=reply.get("ContentType", "application/octet-stream"),
            metadata=dict(reply.get("Metadata", {})),
            last_modified=reply.get("LastModified"),
        )

    async def presign_get(self, key: str, ttl_seconds: int) -> str:
        if self._public_url:
            return f"{self._public_url}/{quote(key)}"
        params = {"Bucket": self.bucket, "Key": key}
        url: str = await self._s3.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=ttl_seconds
        )
        return url

    async def delete_many(self, keys: Sequence[str]) -> DeleteOutcome:
        if len(keys) > MAX_DELETE_BATCH:
            raise PermanentError(f"at most {MAX_DELETE_BATCH} keys per DeleteObjects")
        if not keys:
            return DeleteOutcome([], {})
        objects = {"Objects": [{"Key": key} for key in keys], "Quiet": False}
        reply = await s3_call(
            "DeleteObjects", self._s3.delete_objects(Bucket=self.bucket, Delete=objects)
        )
        failed = {
            e["Key"]: f"{e.get('Code')}: {e.get('Message', '')}" for e in reply.get("Errors", [])
        }
        deleted = [d["Key"] for d in reply.get("Deleted", []) if d["Key"] not in failed]
        unanswered = set(keys) - set(deleted) - set(failed)
        failed.update({key: "not confirmed by DeleteObjects" for key in unanswered})
        return DeleteOutcome(deleted, failed)

    async def list_page(self, prefix: str, token: str | None, max_keys: int) -> ListPage:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": max_keys}
        if token:
            params["ContinuationToken"] = token
        reply = await s3_call("ListObjectsV2", self._s3.list_objects_v2(**params))
        entries = [
            StoredObject(
                key=o["Key"],
                size=int(o["Size"]),
                etag=o["ETag"].strip('"'),
                last_modified=o["LastModified"],
            )
            for o in reply.get("Contents", [])
        ]
        next_token = reply.get("NextContinuationToken") if reply.get("IsTruncated") else None
        return ListPage(entries, next_token)

    async def put_file(
        self,
        key: str,
        path: Path,
        content_type: str,
        metadata: dict[str, str],
        condition: PutCondition | None = None,
    ) -> StoredObject:
        size = _size_of(path)
        with timed_transfer("upload") as moved:
            stored = await self._put_file(key, path, size, content_type, metadata, condition)
            moved.bytes = size
        return stored

    async def _put_file(
        self,
        key: str,
        path: Path,
        size: int,
        content_type: str,
        metadata: dict[str, str],
        condition: PutCondition | None,
    ) -> StoredObject:
        if condition:
            # One PUT, verified by its own answer: a HEAD after it could already see the next
            # writer's version, which is exactly what a conditional write expects to happen.
            extra = _condition_params(condition)
            etag = await self._put_single(key, path, size, content_type, metadata, extra)
            return StoredObject(
                key=key,
                size=size,
                etag=etag,
                content_type=content_type,
                metadata=dict(metadata),
                last_modified=datetime.now(UTC),
            )
        if size <= self._tuning.part_bytes:
            expected = await self._put_single(key, path, size, content_type, metadata, {})
        else:
            expected = await self._put_multipart(key, path, size, content_type, metadata)
        return await self._verify(key, size, expected)

    async def _put_single(
        self,
        key: str,
        path: Path,
        size: int,
        content_type: str,
        metadata: dict[str, str],
        extra: dict[str, str],
    ) -> str:
        body, digest = await asyncio.to_thread(_read_part, path, 0, size)
        reply = await s3_call(
            "PutObject",
            self._s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                ContentMD5=_md5_b64(digest),
                Metadata=metadata,
                **extra,
            ),
        )
        if reply["ETag"].strip('"') != digest.hex():
            raise TransientError(f"PutObject of {key} answered another ETag than its MD5")
        return digest.hex()

    async def _put_multipart(
        self, key: str, path: Path, size: int, content_type: str, metadata: dict[str, str]
    ) -> str:
        created = await s3_call(
            "CreateMultipartUpload",
            self._s3.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type, Metadata=metadata
            ),
        )
        upload_id = created["UploadId"]
        try:
            digests = await self._upload_parts(key, path, size, upload_id)
        except BaseException:
            with contextlib.suppress(ClientError, BotoCoreError, OSError):
                await self._s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            raise
        return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"

    async def _upload_parts(self, key: str, path: Path, size: int, upload_id: str) -> list[bytes]:
        part = self._tuning.part_bytes
        gate = asyncio.Semaphore(self._tuning.concurrency)
        offsets = range(0, size, part)

        async def one(number: int, offset: int) -> tuple[bytes, dict[str, Any]]:
            async with gate:
                with MULTIPART_IN_FLIGHT.track_inprogress():
                    return await _upload(number, offset)

        async def _upload(number: int, offset: int) -> tuple[bytes, dict[str, Any]]:
            length = min(part, size - offset)
            body, digest = await asyncio.to_thread(_read_part, path, offset, length)
            reply = await s3_call(
                "UploadPart",
                self._s3.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=body,
                    ContentMD5=_md5_b64(digest),
                ),
            )
            return digest, {"PartNumber": number, "ETag": reply["ETag"]}

        results = await asyncio.gather(*(one(n, o) for n, o in enumerate(offsets, start=1)))
        await s3_call(
            "CompleteMultipartUpload",
            self._s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [entry for _, entry in results]},
            ),
        )
        return [digest for digest, _ in results]

    async def _verify(self, key: str, size: int, etag: str) -> StoredObject:
        stored = await self.head(key)
        if stored is None or stored.size != size or stored.etag != etag:
            found = f"{stored.size} bytes, etag {stored.etag}" if stored else "nothing"
            raise TransientError(
                f"verification of {key} failed: expected {size} bytes, etag {etag}; found {found}"
            )
        return stored


def _condition_params(condition: PutCondition | None) -> dict[str, str]:
    if condition is None:
        return {}
    if condition.if_none_match:
        return {"IfNoneMatch": "*"}
    return {"IfMatch": f'"{condition.if_match}"'} if condition.if_match else {}


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError as exc:
        raise PermanentError(f"local file to push is missing: {path.name}") from exc
