"""Each service's edge table against the route map: every subject is consumed or answered by
exactly the services the map names, and by nobody else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from libs.messaging.topology import INGEST, RENDER, ROUTES, SERVICES, STORAGE, TRACKING, Topology
from libs.runtime.edge import Edge
from services.ingest.app import edge as ingest_edge
from services.render.app import edge as render_edge
from services.storage.app import edge as storage_edge
from services.tracking.app import edge as tracking_edge

TOPOLOGY = Topology("unit.")


class AnyHandlers:
    """Stands in for a service's handlers: the table only names them."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        async def handler(*_args: object) -> None:
            return None

        handler.__name__ = name
        return handler


TABLES: dict[str, Callable[[], Edge]] = {
    INGEST: lambda: ingest_edge(AnyHandlers(), TOPOLOGY, 300),  # type: ignore[arg-type]
    STORAGE: lambda: storage_edge(AnyHandlers(), TOPOLOGY, 600),  # type: ignore[arg-type]
    TRACKING: lambda: tracking_edge(AnyHandlers(), TOPOLOGY, 16),  # type: ignore[arg-type]
    RENDER: lambda: render_edge(AnyHandlers(), TOPOLOGY),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_consumes_exactly_the_streams_the_map_gives_it(service: str) -> None:
    expected = {
        TOPOLOGY.subject(r.name) for r in ROUTES if r.reply is None and service in r.receivers
    }
    assert {c.subject for c in TABLES[service]().consumes} == expected


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_answers_exactly_the_requests_the_map_gives_it(service: str) -> None:
    expected = {
        TOPOLOGY.subject(r.name) for r in ROUTES if r.reply is not None and service in r.receivers
    }
    assert {a.subject for a in TABLES[service]().answers} == expected


def test_every_route_has_a_receiver_and_a_sender() -> None:
    received = set().union(*(table().subjects for table in TABLES.values()))
    assert received == {TOPOLOGY.subject(route.name) for route in ROUTES}
    assert all(route.senders and set(route.senders) <= set(SERVICES) for route in ROUTES)


def test_durable_names_are_unique_across_services() -> None:
    durables = [durable for route in ROUTES for _service, durable in route.durables]
    assert len(durables) == len(set(durables))


@pytest.mark.parametrize("service", SERVICES)
def test_a_table_is_its_own_services_and_every_consumer_has_a_durable_on_the_map(
    service: str,
) -> None:
    table = TABLES[service]()
    assert table.service == service
    assert all(TOPOLOGY.consumer_of(service, c.subject).durable for c in table.consumes)


def test_only_stream_receivers_have_durables() -> None:
    for route in ROUTES:
        expected = set() if route.reply is not None else set(route.receivers)
        assert {service for service, _ in route.durables} == expected


def test_request_reply_routes_have_one_answering_service() -> None:
    assert all(len(r.receivers) == 1 for r in ROUTES if r.reply is not None)
