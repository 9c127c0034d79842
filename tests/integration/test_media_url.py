"""The probe reads an upload where it lies: through a presigned GET of the real S3 stand-in."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from libs.media.probe import NotAVideoError, probe

pytestmark = pytest.mark.integration


async def test_a_video_is_probed_through_a_presigned_url(bucket: Any, small_video: Path) -> None:
    async with ClientSession() as http:
        presigned = await bucket.presign_put("users/alice/in.mp4", "video/mp4", {}, None, 60)
        body = io.BytesIO(small_video.read_bytes())
        async with http.put(presigned.url, data=body, headers=presigned.headers) as response:
            assert response.status == 200
    info = await probe(await bucket.presign_get("users/alice/in.mp4", 60), hint_extension="mp4")
    assert (info.extension, info.width, info.height, info.codec) == ("mp4", 320, 240, "h264")
    assert info.has_audio and info.duration == pytest.approx(2.0, abs=0.1)


async def test_a_url_to_nothing_is_no_video_and_the_error_hides_the_signature(
    bucket: Any,
) -> None:
    url = await bucket.presign_get("users/alice/absent.mp4", 60)
    with pytest.raises(NotAVideoError) as caught:
        await probe(url)
    assert "Signature" not in str(caught.value) and "absent" not in str(caught.value)
