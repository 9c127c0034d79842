"""GET /docs works offline (every asset it loads is served by ingest) and the OpenAPI document
is valid OpenAPI 3.1 with an operationId, a summary and an example for every operation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp import ClientSession
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from libs.runtime.wiring import open_bus, topology_of
from libs.settings import Settings
from services.ingest.app import IngestDeps, build_app
from services.ingest.openapi import openapi_document
from tests.support import serving

_METHODS = {"get", "put", "post", "delete", "patch"}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in _METHODS
    ]


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_operation_has_a_unique_id_a_summary_and_an_example() -> None:
    found = operations(openapi_document())
    ids = [operation["operationId"] for _, _, operation in found]
    assert len(ids) == len(set(ids)) == len(found)
    for path, method, operation in found:
        assert operation["summary"].strip(), (path, method)
        assert '"example"' in json.dumps(operation), (path, method)


def test_the_bearer_token_can_be_entered_in_the_docs() -> None:
    document = openapi_document()
    schemes = document["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()
    assert document["security"]


@pytest.mark.integration
async def test_docs_page_loads_every_asset_from_ingest_itself(
    settings: Settings, http: ClientSession
) -> None:
    async with open_bus(settings, "ingest") as bus:
        app = build_app(
            settings, IngestDeps(bus=bus, topology=topology_of(settings), jetstream=bus.jetstream)
        )
        async with serving(app) as base:
            async with http.get(f"{base}/docs") as response:
                assert response.status == 200
                assert response.content_type == "text/html"
                page = await response.text()
            linked = re.findall(r'(?:src|href)="([^"]+)"', page)
            assert "://" not in page, "the page must not load anything from elsewhere"
            assert len(linked) >= 4
            for link in linked:
                async with http.get(f"{base}{link}") as asset:
                    assert asset.status == 200, link
                    body = await asset.text(errors="replace")
                    if link.endswith("cliptrail-docs.js"):
                        assert '"/api/v1/openapi.json"' in body and "validatorUrl: null" in body
            async with http.get(f"{base}/docs/swagger-ui.js.map") as missing:
                assert missing.status == 404
