"""Parts of a streamed body: exact sizes, the bytes in order, and a few buffers reused."""

from __future__ import annotations

from collections.abc import AsyncIterator

from libs.storage.transfer import PartBuffers, parts_of


async def _chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def _parts(body: bytes, chunk: int, part: int) -> tuple[list[bytes], set[int]]:
    """The parts' bytes, and the ids of the buffers they were filled in (each given back)."""
    buffers = PartBuffers(part, 2)
    seen, made = [], set()
    async for view in parts_of(_chunks(body, chunk), buffers):
        seen.append(bytes(view))
        made.add(id(view.obj))
        buffers.give(view)
    return seen, made


async def test_parts_are_equal_but_the_last_and_hold_the_body_in_order() -> None:
    body = bytes(range(256)) * 41  # 10,496 bytes in chunks that straddle part boundaries
    parts, _ = await _parts(body, chunk=333, part=1000)
    assert [len(part) for part in parts] == [1000] * 10 + [496]
    assert b"".join(parts) == body


async def test_a_body_ending_on_a_boundary_ends_with_an_empty_part() -> None:
    parts, _ = await _parts(b"x" * 3000, chunk=700, part=1000)
    assert [len(part) for part in parts] == [1000, 1000, 1000, 0]


async def test_an_empty_body_is_one_empty_part() -> None:
    assert (await _parts(b"", chunk=10, part=1000))[0] == [b""]


async def test_buffers_are_reused_not_made_per_part() -> None:
    _, made = await _parts(b"y" * 20_000, chunk=4096, part=1000)
    assert len(made) <= 2
