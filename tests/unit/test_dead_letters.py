"""The dead-letter rules: a replay goes to the subject the letter's own subject names, only if
that is a stream subject of the map, with the original headers under a fresh message id."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from libs.errors import InvalidError, NotFoundError
from libs.messaging.bus import Letter
from libs.messaging.events import DeadLetterCommand
from libs.messaging.topology import Topology
from services.tracking.deadletters import DeadLetters

TOPOLOGY = Topology("unit.")


@dataclass
class MemoryLetters:
    letters: dict[int, Letter] = field(default_factory=dict)
    published: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    async def page(self, after: int, limit: int) -> list[Letter]:
        return [self.letters[s] for s in sorted(self.letters) if s > after][:limit]

    async def get(self, seq: int) -> Letter | None:
        return self.letters.get(seq)

    async def remove(self, seq: int) -> bool:
        return self.letters.pop(seq, None) is not None

    async def purge(self) -> int:
        count = len(self.letters)
        self.letters.clear()
        return count

    async def publish(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        self.published.append((subject, data, headers))


def letter(seq: int, subject: str, claimed: str = "") -> Letter:
    headers = {
        "Nats-Msg-Id": f"dead:WORK:{seq}",
        "Cliptrail-Original-Msg-Id": "cleanup-1",
        "Cliptrail-Error": "boom",
        "Cliptrail-Original-Subject": claimed or subject,
        "traceparent": "00-abc-def-01",
    }
    return Letter(seq, TOPOLOGY.dead_letter(subject), b"{}", headers)


async def test_a_replay_sends_the_original_headers_under_a_fresh_id_then_removes() -> None:
    store = MemoryLetters({7: letter(7, TOPOLOGY.cleanup)})
    reply = await DeadLetters(store, TOPOLOGY).run(DeadLetterCommand(action="replay", seq=7))
    assert reply.removed == 1 and store.letters == {}
    headers = {"traceparent": "00-abc-def-01", "Nats-Msg-Id": "cleanup-1:replay:7"}
    assert store.published == [(TOPOLOGY.cleanup, b"{}", headers)]


async def test_a_replay_goes_where_the_letters_subject_says_whatever_a_header_claims() -> None:
    store = MemoryLetters({1: letter(1, TOPOLOGY.cleanup, claimed=TOPOLOGY.object_created)})
    await DeadLetters(store, TOPOLOGY).run(DeadLetterCommand(action="replay", seq=1))
    assert [subject for subject, _, _ in store.published] == [TOPOLOGY.cleanup]


async def test_a_letter_from_no_stream_subject_is_not_replayed_and_is_kept() -> None:
    store = MemoryLetters({2: letter(2, TOPOLOGY.delete_rpc), 3: letter(3, "unit.elsewhere")})
    for seq in (2, 3):
        with pytest.raises(InvalidError):
            await DeadLetters(store, TOPOLOGY).run(DeadLetterCommand(action="replay", seq=seq))
    assert store.published == [] and set(store.letters) == {2, 3}


async def test_show_and_replay_need_a_letter_that_exists() -> None:
    letters = DeadLetters(MemoryLetters(), TOPOLOGY)
    with pytest.raises(NotFoundError):
        await letters.run(DeadLetterCommand(action="show", seq=9))
    with pytest.raises(InvalidError):
        await letters.run(DeadLetterCommand(action="replay"))
