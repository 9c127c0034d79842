"""NATS messages: stable CloudEvent ids, strict decoding, lossless round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from libs.errors import PermanentError
from libs.messaging.events import (
    EVENT_SOURCE,
    OBJECT_CREATED,
    OBJECT_DELETED,
    NewObject,
    ObjectEvent,
    ObjectEventData,
    PartUrlsRequest,
    PutUrlRequest,
    R2Object,
    decode,
    encode,
    object_event,
    object_event_id,
)

KEY = "users/alice/projects/p1/videos/v1/source.mp4"
WHEN = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def event_data(**changes: Any) -> ObjectEventData:
    fields: dict[str, Any] = {
        "action": "PutObject",
        "bucket": "cliptrail",
        "object": R2Object(key=KEY, size=1234, eTag="abc123"),
        "eventTime": WHEN,
        "user_id": "alice",
        "project_id": "p1",
        "video_id": "v1",
        "file_type": "source",
        "content_type": "video/mp4",
    }
    return ObjectEventData(**{**fields, **changes})


def test_object_event_id_is_stable() -> None:
    first = object_event_id(OBJECT_CREATED, "b", KEY, "etag")
    assert first == object_event_id(OBJECT_CREATED, "b", KEY, "etag")
    assert len(first) == 40


@pytest.mark.parametrize(
    "changed",
    [
        (OBJECT_DELETED, "b", KEY, "etag"),
        (OBJECT_CREATED, "other", KEY, "etag"),
        (OBJECT_CREATED, "b", KEY + "x", "etag"),
        (OBJECT_CREATED, "b", KEY, "etag2"),
    ],
    ids=["type", "bucket", "key", "etag"],
)
def test_object_event_id_differs_when_any_part_differs(changed: tuple[str, ...]) -> None:
    assert object_event_id(*changed) != object_event_id(OBJECT_CREATED, "b", KEY, "etag")


def test_object_event_id_does_not_collide_when_parts_shift() -> None:
    assert object_event_id(OBJECT_CREATED, "ab", "c", "d") != object_event_id(
        OBJECT_CREATED, "a", "bc", "d"
    )


def test_object_event_is_a_cloudevent_1_0_envelope() -> None:
    event = object_event(OBJECT_CREATED, event_data())
    assert event.specversion == "1.0"
    assert event.id == object_event_id(OBJECT_CREATED, "cliptrail", KEY, "abc123")
    assert event.source == EVENT_SOURCE
    assert event.type == OBJECT_CREATED
    assert event.time == WHEN
    assert event.subject == KEY
    assert event.datacontenttype == "application/json"


def test_encoded_event_has_the_r2_notification_shape() -> None:
    wire = json.loads(encode(object_event(OBJECT_CREATED, event_data())))
    assert wire["specversion"] == "1.0"
    assert wire["data"]["action"] == "PutObject"
    assert wire["data"]["object"] == {"key": KEY, "size": 1234, "eTag": "abc123"}
    assert wire["data"]["bucket"] == "cliptrail"
    assert datetime.fromisoformat(wire["data"]["eventTime"]) == WHEN
    assert datetime.fromisoformat(wire["time"]) == WHEN
    for name in ("user_id", "project_id", "video_id", "file_type", "content_type"):
        assert name in wire["data"]


def test_object_event_round_trips_through_encode_and_decode() -> None:
    data = event_data(scene_id="h1", metadata={"title": "Goal"})
    event = object_event(OBJECT_DELETED, data)
    assert decode(ObjectEvent, encode(event)) == event


def test_a_put_url_request_round_trips() -> None:
    new = NewObject(key=KEY, content_type="video/mp4", metadata={"a": "1"}, scene_id="h1")
    request = PutUrlRequest(object=new, if_match="etag")
    assert decode(PutUrlRequest, encode(request)) == request


def valid_wire() -> dict[str, Any]:
    wire: dict[str, Any] = json.loads(encode(object_event(OBJECT_CREATED, event_data())))
    return wire


def without(wire: dict[str, Any], *path: str) -> dict[str, Any]:
    target = wire
    for name in path[:-1]:
        target = target[name]
    del target[path[-1]]
    return wire


def replaced(wire: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    target = wire
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    return wire


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"{",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"null",
        json.dumps(without(valid_wire(), "id")).encode(),
        json.dumps(without(valid_wire(), "data")).encode(),
        json.dumps(without(valid_wire(), "data", "object", "eTag")).encode(),
        json.dumps(without(valid_wire(), "data", "user_id")).encode(),
        json.dumps(replaced(valid_wire(), "0.3", "specversion")).encode(),
        json.dumps(replaced(valid_wire(), "storage.object.moved", "type")).encode(),
        json.dumps(replaced(valid_wire(), "big", "data", "object", "size")).encode(),
        json.dumps(replaced(valid_wire(), -1, "data", "object", "size")).encode(),
        json.dumps(replaced(valid_wire(), "video", "data", "file_type")).encode(),
        json.dumps(replaced(valid_wire(), "yesterday", "time")).encode(),
        json.dumps(replaced(valid_wire(), ["x"], "data", "bucket")).encode(),
    ],
)
def test_decode_raises_permanent_error_for_malformed_events(payload: bytes) -> None:
    with pytest.raises(PermanentError, match="malformed ObjectEvent"):
        decode(ObjectEvent, payload)


def test_decode_raises_permanent_error_for_a_put_url_request_without_a_key() -> None:
    payload = json.dumps({"object": {"content_type": "video/mp4"}}).encode()
    with pytest.raises(PermanentError, match="key"):
        decode(PutUrlRequest, payload)


@pytest.mark.parametrize(("first", "count"), [(0, 1), (1, 0), (1, 101), (10001, 1)])
def test_part_url_requests_stay_within_s3s_part_numbers(first: int, count: int) -> None:
    payload = json.dumps({"key": KEY, "upload_id": "u", "first": first, "count": count})
    with pytest.raises(PermanentError):
        decode(PartUrlsRequest, payload.encode())
