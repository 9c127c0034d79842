"""The real object store: aiobotocore against R2 or any S3-compatible server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from libs.errors import ConflictError, PermanentError, TransientError
from libs.settings import Settings
from libs.storage.objects import StoredObject
from libs.storage.objectstore import (
    MAX_DELETE_BATCH,
    DeleteOutcome,
    ListPage,
    OpenUpload,
    PartDone,
    PresignedPut,
    PutCondition,
)

T = TypeVar("T")
_TRANSIENT_CODES = {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"}


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


class S3ObjectStore:
    def __init__(self, client: Any, bucket: str, public_url: str = "") -> None:
        self._s3 = client
        self.bucket = bucket
        self._public_url = public_url.rstrip("/")

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

    async def presign_put(
        self,
        key: str,
        content_type: str,
        metadata: Mapping[str, str],
        condition: PutCondition | None,
        ttl_seconds: int,
    ) -> PresignedPut:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        params |= {"Metadata": dict(metadata), **_condition_params(condition)}
        url: str = await self._s3.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=ttl_seconds
        )
        headers = {"Content-Type": content_type}
        headers |= {f"x-amz-meta-{name}": value for name, value in metadata.items()}
        return PresignedPut(url, headers | _condition_headers(condition))

    async def begin_multipart(
        self, key: str, content_type: str, metadata: Mapping[str, str]
    ) -> str:
        created = await s3_call(
            "CreateMultipartUpload",
            self._s3.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type, Metadata=dict(metadata)
            ),
        )
        upload_id: str = created["UploadId"]
        return upload_id

    async def presign_part(self, key: str, upload_id: str, number: int, ttl_seconds: int) -> str:
        params = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": number}
        url: str = await self._s3.generate_presigned_url(
            "upload_part", Params=params, ExpiresIn=ttl_seconds
        )
        return url

    async def complete_multipart(self, key: str, upload_id: str, parts: Sequence[PartDone]) -> None:
        listed = [{"PartNumber": part.number, "ETag": f'"{part.etag}"'} for part in parts]
        await s3_call(
            "CompleteMultipartUpload",
            self._s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            ),
        )

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            await s3_call(
                "AbortMultipartUpload",
                self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id),
            )
        except PermanentError as exc:
            if not (isinstance(exc.__cause__, ClientError) and http_status(exc.__cause__) == 404):
                raise

    async def open_uploads(self) -> list[OpenUpload]:
        found: list[OpenUpload] = []
        params: dict[str, Any] = {"Bucket": self.bucket}
        while True:
            reply = await s3_call("ListMultipartUploads", self._s3.list_multipart_uploads(**params))
            found += [
                OpenUpload(u["Key"], u["UploadId"], u["Initiated"])
                for u in reply.get("Uploads", [])
            ]
            if not reply.get("IsTruncated"):
                return found
            params["KeyMarker"] = reply.get("NextKeyMarker")
            params["UploadIdMarker"] = reply.get("NextUploadIdMarker")


def _condition_params(condition: PutCondition | None) -> dict[str, str]:
    if condition is None:
        return {}
    if condition.if_none_match:
        return {"IfNoneMatch": "*"}
    return {"IfMatch": f'"{condition.if_match}"'} if condition.if_match else {}


def _condition_headers(condition: PutCondition | None) -> dict[str, str]:
    """The headers a presigned conditional PUT must carry (they are part of its signature)."""
    names = {"IfNoneMatch": "If-None-Match", "IfMatch": "If-Match"}
    return {names[name]: value for name, value in _condition_params(condition).items()}
