"""Fair use as arithmetic: a token bucket per user, uploads counted per user, memory bounded."""

from __future__ import annotations

import pytest

from libs.web.fairuse import Bucket, FairUse, Rate, Slots


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limits(per_second: float = 2.0, burst: int = 3, **kwargs: int) -> tuple[FairUse, Clock]:
    clock = Clock()
    return FairUse(
        Rate(per_second, burst), kwargs.pop("max_uploads", 2), clock=clock, **kwargs
    ), clock


def test_a_full_bucket_lets_the_burst_through_then_says_how_long_to_wait() -> None:
    fair, _clock = limits(per_second=2.0, burst=3)
    assert [fair.admit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert fair.admit("a") == pytest.approx(0.5)  # one token at 2 per second


def test_the_bucket_refills_at_the_rate_and_never_above_the_burst() -> None:
    fair, clock = limits(per_second=2.0, burst=3)
    for _ in range(3):
        fair.admit("a")
    clock.now += 0.5
    assert fair.admit("a") == 0.0
    assert fair.admit("a") == pytest.approx(0.5)
    clock.now += 3600
    assert [fair.admit("a") for _ in range(4)][-1] == pytest.approx(0.5)


def test_a_refused_request_takes_nothing() -> None:
    rate = Rate(1.0, 1)
    bucket = Bucket(tokens=0.25, updated=0.0)
    assert rate.take(bucket, 0.0) == pytest.approx(0.75)
    assert rate.take(bucket, 0.75) == 0.0


def test_users_have_their_own_buckets() -> None:
    fair, _clock = limits(per_second=1.0, burst=1)
    assert fair.admit("a") == 0.0
    assert fair.admit("a") > 0
    assert fair.admit("b") == 0.0


def test_rate_zero_is_unlimited() -> None:
    fair, _clock = limits(per_second=0.0, burst=0)
    assert all(fair.admit("a") == 0.0 for _ in range(1000))
    assert not fair.buckets


def test_idle_users_are_forgotten() -> None:
    fair, clock = limits(per_second=1.0, burst=2)
    fair.admit("a")
    fair.admit("b")
    clock.now += 2.0  # both refilled: nothing to remember
    fair.admit("c")
    assert list(fair.buckets) == ["c"]


def test_a_busy_user_is_remembered() -> None:
    fair, clock = limits(per_second=1.0, burst=2)
    fair.admit("a")
    fair.admit("a")
    clock.now += 1.0  # half refilled
    fair.admit("c")
    assert list(fair.buckets) == ["a", "c"]


def test_memory_is_bounded_by_max_users() -> None:
    fair, _clock = limits(per_second=1.0, burst=5, max_users=3)
    for user in "abcdefg":
        fair.admit(user)
    assert list(fair.buckets) == ["e", "f", "g"]


def test_slots_are_counted_per_user() -> None:
    slots = Slots(2)
    assert slots.take("a") and slots.take("a")
    assert not slots.take("a")
    assert slots.take("b")
    slots.give_back("a")
    assert slots.take("a")
    for user in ("a", "a", "b"):
        slots.give_back(user)
    assert slots.taken == {}


def test_zero_slots_is_unlimited() -> None:
    slots = Slots(0)
    assert all(slots.take("a") for _ in range(100))
