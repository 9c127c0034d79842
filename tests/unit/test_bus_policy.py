"""The delivery policy both buses share: ack, retry with capped backoff, or dead-letter."""

from __future__ import annotations

import pytest

from libs.errors import PermanentError, TransientError
from libs.messaging.bus import Delivery, Outcome, RetryPolicy, decide

POLICY = RetryPolicy(max_tries=4, base_seconds=0.5, cap_seconds=3.0)


def delivery(num_delivered: int) -> Delivery:
    return Delivery("s", b"payload", num_delivered)


def test_delay_doubles_from_the_base() -> None:
    assert [POLICY.delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


def test_delay_is_capped() -> None:
    assert POLICY.delay(4) == 3.0
    assert POLICY.delay(1000) == 3.0


def test_delay_never_shrinks() -> None:
    delays = [POLICY.delay(n) for n in range(0, 50)]
    assert delays == sorted(delays)
    assert POLICY.delay(0) == POLICY.delay(1) == 0.5


def test_exhausted_at_max_tries() -> None:
    assert not POLICY.exhausted(3)
    assert POLICY.exhausted(4)
    assert POLICY.exhausted(5)


async def succeed(_: Delivery) -> None:
    return None


async def fail_permanently(_: Delivery) -> None:
    raise PermanentError("bad key")


async def fail_transiently(_: Delivery) -> None:
    raise TransientError("server down")


async def fail_unexpectedly(_: Delivery) -> None:
    raise KeyError("surprise")


async def test_success_is_acked() -> None:
    assert await decide(succeed, delivery(1), POLICY) == (Outcome.ACK, "")


@pytest.mark.parametrize("tries", [1, 4])
async def test_permanent_error_is_dead_at_once(tries: int) -> None:
    assert await decide(fail_permanently, delivery(tries), POLICY) == (Outcome.DEAD, "bad key")


@pytest.mark.parametrize("handler", [fail_transiently, fail_unexpectedly])
async def test_other_errors_are_retried_before_max_tries(handler: object) -> None:
    outcome, reason = await decide(handler, delivery(3), POLICY)  # type: ignore[arg-type]
    assert outcome == Outcome.RETRY
    assert reason.split(":")[0] in ("TransientError", "KeyError")


async def test_other_errors_are_dead_once_tries_are_exhausted() -> None:
    outcome, reason = await decide(fail_transiently, delivery(4), POLICY)
    assert outcome == Outcome.DEAD
    assert reason == "gave up after 4 tries: TransientError: server down"
