"""The deploy artefacts carry the same NATS permission map as `make run`: the Helm values are
generated from the route map and in sync with it, compose gives each service its own seed, and
the Kubernetes base mounts each service's own seed Secret."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from deploy.natsauth import helm_values, placeholder_keys
from libs.messaging.permissions import ADMIN, IDENTITIES, permissions
from tests.deploy import DEPLOY, SERVICE_PORTS

pytestmark = pytest.mark.deploy
HELM_VALUES = DEPLOY / "k8s" / "nats-auth-values.yaml"


def test_the_helm_authorization_values_are_generated_from_the_map() -> None:
    assert HELM_VALUES.read_text() == helm_values(placeholder_keys()), (
        "regenerate: python -m deploy.natsauth helm-values > deploy/k8s/nats-auth-values.yaml"
    )
    users = yaml.safe_load(HELM_VALUES.read_text())["config"]["merge"]["authorization"]["users"]
    for identity, user in zip(IDENTITIES, users, strict=True):
        assert user["permissions"]["publish"]["allow"] == list(permissions(identity).publish)
    assert "no_auth_user" not in HELM_VALUES.read_text()


def test_compose_gives_each_service_and_bootstrap_its_own_seed() -> None:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    for name in [*SERVICE_PORTS, "bootstrap"]:
        assert services[name]["secrets"] == [f"nats-{name}"], name
        seed = services[name]["environment"]["NATS_NKEY_SEED_FILE"]
        assert seed == f"/run/secrets/nats-{name}", name
        assert compose["secrets"][f"nats-{name}"]["file"] == f"./.secrets/{name}.nk"
    assert "/run/secrets/nats-conf" in services["nats"]["command"]
    assert f"nats-{ADMIN}" not in compose["secrets"]  # the operator's key stays with them


def test_kubernetes_mounts_each_service_its_own_seed_secret() -> None:
    for name in [*SERVICE_PORTS, "bootstrap-job"]:
        manifest = (DEPLOY / "k8s" / "base" / f"{name}.yaml").read_text()
        identity = name.removesuffix("-job")
        assert f"secretName: cliptrail-nats-{identity}" in manifest, name
