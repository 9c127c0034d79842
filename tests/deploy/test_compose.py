"""deploy/compose.yaml: the whole system with two replicas of each service, checked as data
(no Docker engine here): replicas, health checks, scratch, bootstrap order, config names."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from libs.web.auth import secret_is_weak
from tests.deploy import DEPLOY, PENDING_SETTINGS, SERVICE_PORTS, setting_fields

pytestmark = pytest.mark.deploy

INFRA = {"nats", "mongodb", "objectstore"}
Service = dict[str, Any]


@pytest.fixture(scope="module")
def services() -> dict[str, Service]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    found: dict[str, Service] = compose["services"]
    assert set(found) == INFRA | {"bootstrap"} | set(SERVICE_PORTS)
    return found


def named_volumes(service: Service) -> set[str]:
    """Named volumes and bind mounts; a bare container path is an anonymous, per-container one."""
    sources = set()
    for volume in service.get("volumes", []):
        source = volume.get("source") if isinstance(volume, dict) else volume.split(":")[0]
        if source and (isinstance(volume, dict) or ":" in volume):
            sources.add(source)
    return sources


def test_every_service_runs_two_replicas_of_its_module(services: dict[str, Service]) -> None:
    for name in SERVICE_PORTS:
        assert services[name]["deploy"]["replicas"] == 2, name
        assert services[name]["command"] == ["python", "-m", f"services.{name}.main"]


def test_health_checks_ask_healthz_on_the_service_port(services: dict[str, Service]) -> None:
    for name, variable in SERVICE_PORTS.items():
        port = services[name]["environment"][variable]
        check = " ".join(services[name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/healthz" in check, name
    for name in INFRA:
        assert services[name]["healthcheck"]["test"], name


def test_replicas_share_no_volume(services: dict[str, Service]) -> None:
    for name in SERVICE_PORTS:
        assert named_volumes(services[name]) == set(), name
        assert "/var/lib/cliptrail" in services[name]["volumes"], name
        assert services[name]["environment"]["CLIPTRAIL_DATA_DIR"] == "/var/lib/cliptrail"
    owners = [source for service in services.values() for source in named_volumes(service)]
    assert len(owners) == len(set(owners)), owners


def test_bootstrap_runs_once_before_every_service(services: dict[str, Service]) -> None:
    bootstrap = services["bootstrap"]
    assert bootstrap["command"] == ["python", "-m", "deploy.bootstrap"]
    assert bootstrap["restart"] == "no"
    assert bootstrap["depends_on"] == {n: {"condition": "service_healthy"} for n in INFRA}
    for name in SERVICE_PORTS:
        wait = services[name]["depends_on"]["bootstrap"]
        assert wait == {"condition": "service_completed_successfully"}, name
    assert "-js" in services["nats"]["command"]


def test_every_variable_is_a_setting(services: dict[str, Service]) -> None:
    known = set(setting_fields()) | PENDING_SETTINGS
    for name in [*SERVICE_PORTS, "bootstrap"]:
        environment = services[name]["environment"]
        assert set(environment) - known == set(), name
        assert environment["CLIPTRAIL_EMBEDDED"] == "0"


def users_of(services: dict[str, Service], variable: str) -> set[str]:
    return {name for name, s in services.items() if variable in s.get("environment", {})}


def test_secrets_reach_only_the_services_that_need_them(services: dict[str, Service]) -> None:
    assert users_of(services, "R2_SECRET_ACCESS_KEY") == {"storage", "bootstrap"}
    assert users_of(services, "AUTH_JWT_SECRET") == {"ingest"}
    storage, objectstore = (
        services["storage"]["environment"],
        services["objectstore"]["environment"],
    )
    assert storage["R2_ACCESS_KEY_ID"] == objectstore["MINIO_ROOT_USER"]
    assert storage["R2_SECRET_ACCESS_KEY"] == objectstore["MINIO_ROOT_PASSWORD"]


def test_the_default_jwt_secret_is_long_enough(services: dict[str, Service]) -> None:
    match = re.fullmatch(
        r"\$\{AUTH_JWT_SECRET:-(.+)\}", services["ingest"]["environment"]["AUTH_JWT_SECRET"]
    )
    assert match is not None
    assert not secret_is_weak(match.group(1))
