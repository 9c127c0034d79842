"""Health, readiness naming what is down, and an OpenAPI document that matches the routes."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession

from libs.messaging.dead_letters import NatsDeadLetters
from libs.messaging.topology import INGEST, TRACKING
from libs.runtime.wiring import open_records, topology_of
from libs.settings import Settings
from services.ingest.app import IngestDeps, build_app
from services.tracking.app import TrackingDeps
from services.tracking.app import build_app as build_tracking
from tests.support import bearer, ingest, service_bus, serving, storage, tracking


async def test_readyz_names_what_does_not_answer(
    settings: Settings, bucket: Any, http: ClientSession
) -> None:
    async with ingest(settings) as base:
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 503
            assert response.headers["Retry-After"].isdigit()
            body = await response.json()
        assert set(body["failing"]) == {"storage", "tracking"}
        assert "storage" in body["detail"] and "tracking" in body["detail"]
        async with storage(settings):
            async with http.get(f"{base}/readyz") as response:
                assert set((await response.json())["failing"]) == {"tracking"}
            async with tracking(settings), http.get(f"{base}/readyz") as response:
                assert response.status == 200, await response.text()


async def test_a_request_that_finds_no_responder_is_a_503_with_retry_after(
    settings: Settings, http: ClientSession
) -> None:
    alice = bearer(settings, "alice")
    async with ingest(settings) as base:
        url = f"{base}/api/v1/projects"
        async with http.post(url, json={"name": "demo"}, headers=alice) as response:
            assert response.status == 503, await response.text()
            assert response.headers["Content-Type"].startswith("application/problem+json")
            assert response.headers["Retry-After"].isdigit()


async def test_tracking_readyz_reports_an_unreachable_mongodb(
    settings: Settings, http: ClientSession
) -> None:
    broken = settings.model_copy(
        update={"mongodb_uri": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500"}
    )
    async with service_bus(broken, TRACKING) as bus, open_records(broken) as records:
        deps = TrackingDeps(bus, records, topology_of(broken), NatsDeadLetters(bus))
        app = build_tracking(broken, deps)
        async with serving(app) as base, http.get(f"{base}/readyz") as response:
            assert response.status == 503
            assert "mongodb" in (await response.json())["failing"]


async def test_worker_services_answer_health(
    settings: Settings, bucket: Any, http: ClientSession
) -> None:
    async with storage(settings) as storage_url, tracking(settings) as tracking_url:
        for base in (storage_url, tracking_url):
            async with http.get(f"{base}/readyz") as response:
                assert response.status == 200, await response.text()


async def test_openapi_documents_exactly_the_routes(
    settings: Settings, http: ClientSession
) -> None:
    async with service_bus(settings, INGEST) as bus:
        app = build_app(
            settings, IngestDeps(bus=bus, topology=topology_of(settings), jetstream=bus.jetstream)
        )
        async with serving(app) as base, http.get(f"{base}/api/v1/openapi.json") as response:
            document = await response.json()
    routes = [route for route in app.router.routes() if route.resource is not None]
    with_get = {route.resource for route in routes if route.method == "GET"}
    # aiohttp adds a HEAD to every GET (undocumented); tus's HEAD is a route of its own.
    served = {
        (route.resource.canonical, route.method.lower())
        for route in routes
        if route.method != "HEAD" or route.resource not in with_get
    }
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert document["openapi"].startswith("3.1")
    assert documented == served
