"""The dead letters, for an admin: list, show, replay (to the original subject with the original
headers, then removed) and purge. The admin CLI and the admin endpoints (through tracking's
`deadletters` answer) both run `DeadLetters.run`."""

from __future__ import annotations

from dataclasses import dataclass

from libs.errors import InvalidError, NotFoundError
from libs.messaging.bus import DeadLetterStore, Letter
from libs.messaging.events import DeadLetter, DeadLetterCommand, DeadLetterReply
from libs.messaging.topology import ROUTES, Topology

ERROR, ORIGINAL_SUBJECT, ORIGINAL_ID = (
    "Cliptrail-Error",
    "Cliptrail-Original-Subject",
    "Cliptrail-Original-Msg-Id",
)
OWN_HEADERS = frozenset({ERROR, ORIGINAL_SUBJECT, ORIGINAL_ID, "Nats-Msg-Id"})


@dataclass(frozen=True)
class DeadLetters:
    store: DeadLetterStore
    topology: Topology

    async def run(self, command: DeadLetterCommand) -> DeadLetterReply:
        if command.action == "list":
            letters = await self.store.page(command.after, command.limit)
            return DeadLetterReply(letters=[self.view(letter) for letter in letters])
        if command.action == "purge" and command.seq is None:
            return DeadLetterReply(removed=await self.store.purge())
        letter = await self._letter(command.seq)
        if command.action == "replay":
            await self.replay(letter)
        if command.action in ("replay", "purge"):
            return DeadLetterReply(letters=[self.view(letter)], removed=await self._remove(letter))
        return DeadLetterReply(letters=[self.view(letter)])

    async def replay(self, letter: Letter) -> None:
        """Back to its original subject with its original headers, under a new message id
        (the old one would be dropped as a duplicate); the same letter replays to the same id."""
        headers = {k: v for k, v in letter.headers.items() if k not in OWN_HEADERS}
        origin = letter.headers.get(ORIGINAL_ID) or self.topology.dead_letter_stream
        headers["Nats-Msg-Id"] = f"{origin}:replay:{letter.seq}"
        await self.store.publish(self.original_subject(letter), letter.data, headers)

    def original_subject(self, letter: Letter) -> str:
        """Where the letter came from, read from its own subject (`deadletter.<subject>`): a
        replay goes only to a JetStream subject of the map, whatever a header claims."""
        subject = self.topology.subject(letter.subject.removeprefix(self.dead_letter_root))
        streams = {self.topology.subject(r.name) for r in ROUTES if r.reply is None}
        if subject not in streams or not letter.subject.startswith(self.dead_letter_root):
            raise InvalidError(f"dead letter {letter.seq} is from no stream subject: {subject}")
        return subject

    @property
    def dead_letter_root(self) -> str:
        return self.topology.subject("deadletter.")

    def view(self, letter: Letter) -> DeadLetter:
        return DeadLetter(
            seq=letter.seq,
            subject=letter.headers.get(ORIGINAL_SUBJECT, letter.subject),
            error=letter.headers.get(ERROR, ""),
            headers=letter.headers,
            data=letter.data.decode("utf-8", errors="replace"),
            time=letter.time,
        )

    async def _letter(self, seq: int | None) -> Letter:
        if seq is None:
            raise InvalidError("this action needs the dead letter's sequence number")
        letter = await self.store.get(seq)
        if letter is None:
            raise NotFoundError(f"no dead letter {seq}")
        return letter

    async def _remove(self, letter: Letter) -> int:
        return int(await self.store.remove(letter.seq))
