"""The dead-letter stream on NATS JetStream: read, remove, purge, and publish a replay."""

from __future__ import annotations

from nats.errors import Error as NatsError
from nats.js.errors import BadRequestError, NotFoundError

from libs.errors import TransientError
from libs.messaging.bus import Letter
from libs.messaging.nats_bus import NatsBus

TIMEOUT_SECONDS = 5.0


class NatsDeadLetters:
    """Needs the JetStream API on the dead-letter stream (tracking's or admin's identity)."""

    def __init__(self, bus: NatsBus) -> None:
        self._js = bus.jetstream
        self._stream = bus.topology.dead_letter_stream

    async def page(self, after: int, limit: int) -> list[Letter]:
        try:
            state = (await self._js.stream_info(self._stream)).state
            letters: list[Letter] = []
            seq = max(state.first_seq, after + 1)
            while seq <= state.last_seq and len(letters) < limit:
                letter = await self._get(seq)
                letters += [letter] if letter else []
                seq += 1
            return letters
        except (NatsError, TimeoutError) as exc:
            raise TransientError(f"dead letters unreadable: {exc!r}") from exc

    async def get(self, seq: int) -> Letter | None:
        try:
            return await self._get(seq)
        except (NatsError, TimeoutError) as exc:
            raise TransientError(f"dead letter {seq} unreadable: {exc!r}") from exc

    async def _get(self, seq: int) -> Letter | None:
        try:
            raw = await self._js.get_msg(self._stream, seq)
        except (NotFoundError, BadRequestError):  # no such sequence (the server's own word)
            return None
        headers = {str(k): str(v) for k, v in (raw.headers or {}).items()}
        return Letter(seq, raw.subject or "", raw.data or b"", headers, raw.time)

    async def remove(self, seq: int) -> bool:
        try:
            return await self._js.delete_msg(self._stream, seq)
        except (NotFoundError, BadRequestError):
            return False
        except (NatsError, TimeoutError) as exc:
            raise TransientError(f"dead letter {seq} not removed: {exc!r}") from exc

    async def purge(self) -> int:
        try:
            count = (await self._js.stream_info(self._stream)).state.messages
            await self._js.purge_stream(self._stream)
            return count
        except (NatsError, TimeoutError) as exc:
            raise TransientError(f"dead letters not purged: {exc!r}") from exc

    async def publish(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        try:
            await self._js.publish(subject, data, headers=headers, timeout=TIMEOUT_SECONDS)
        except (NatsError, TimeoutError) as exc:
            raise TransientError(f"replay to {subject} failed: {exc!r}") from exc
