"""Kubernetes: the kustomize base and cluster overlay, rendered by the real kubectl, validated
against the Kubernetes schemas (kubernetes-validate, strict, offline) and checked for what
matters in production: probes, hardening, limits, scratch, config names, PDBs, HPAs."""

from __future__ import annotations

import base64
import copy
import functools
import importlib.util
import subprocess
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy import (
    DEPLOY,
    PENDING_SETTINGS,
    SERVICE_PORTS,
    setting_default,
    setting_fields,
    tool,
)

pytestmark = pytest.mark.deploy

K8S_VERSION = "1.37.0"  # the newest schemas kubernetes-validate ships
Doc = dict[str, Any]


@functools.cache
def render(target: str) -> tuple[Doc, ...]:
    out = subprocess.run(
        [tool("kubectl"), "kustomize", str(DEPLOY / "k8s" / target)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


@pytest.fixture(params=["base", "overlays/cluster"])
def docs(request: pytest.FixtureRequest) -> tuple[Doc, ...]:
    return render(request.param)


def of_kind(docs: tuple[Doc, ...], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def deployments(docs: tuple[Doc, ...]) -> dict[str, Doc]:
    found = of_kind(docs, "Deployment")
    assert set(found) == set(SERVICE_PORTS)
    return found


def pod_specs(docs: tuple[Doc, ...]) -> Iterator[tuple[str, Doc]]:
    """Every pod template: the four services and the bootstrap Job."""
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def app(pod: Doc) -> Doc:
    (container,) = pod["containers"]
    return container


def config(docs: tuple[Doc, ...]) -> dict[str, str]:
    (config_map,) = of_kind(docs, "ConfigMap").values()
    return dict(config_map["data"])


def test_every_document_is_valid_for_kubernetes(docs: tuple[Doc, ...]) -> None:
    assert {"Deployment", "Job", "Service", "PodDisruptionBudget"} <= {d["kind"] for d in docs}
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_rejects_what_kubernetes_would() -> None:
    wrong = copy.deepcopy(deployments(render("base"))["render"])
    app(wrong["spec"]["template"]["spec"])["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError, match="readOnlyRootFileSystem"):
        kubernetes_validate.validate(wrong, K8S_VERSION, strict=True)


def test_each_service_runs_its_own_module(docs: tuple[Doc, ...]) -> None:
    for name, deployment in deployments(docs).items():
        command = app(deployment["spec"]["template"]["spec"])["command"]
        assert command == ["python", "-m", f"services.{name}.main"]
        assert importlib.util.find_spec(command[2]) is not None
    (job,) = of_kind(docs, "Job").values()
    assert app(job["spec"]["template"]["spec"])["command"] == ["python", "-m", "deploy.bootstrap"]
    assert importlib.util.find_spec("deploy.bootstrap") is not None


def container_port(container: Doc, port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return int(number)


def test_probes_ask_readyz_and_healthz_on_the_service_port(docs: tuple[Doc, ...]) -> None:
    for name, deployment in deployments(docs).items():
        container = app(deployment["spec"]["template"]["spec"])
        expected = int(config(docs)[SERVICE_PORTS[name]])
        assert expected == int(setting_default(SERVICE_PORTS[name]))
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            get = container[probe]["httpGet"]
            assert (name, get["path"]) == (name, path)
            assert container_port(container, get["port"]) == expected, name


def test_every_service_pod_is_scraped_by_prometheus(docs: tuple[Doc, ...]) -> None:
    for name, deployment in deployments(docs).items():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        assert annotations["prometheus.io/port"] == config(docs)[SERVICE_PORTS[name]]


def test_pods_run_unprivileged_on_a_read_only_root(docs: tuple[Doc, ...]) -> None:
    for name, pod in pod_specs(docs):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False, name
        context = app(pod)["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name


def test_every_container_requests_and_is_limited(docs: tuple[Doc, ...]) -> None:
    for name, pod in pod_specs(docs):
        resources = app(pod)["resources"]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory", "ephemeral-storage"} <= set(resources[bound]), name


def test_scratch_is_a_per_pod_empty_dir_at_the_data_dir(docs: tuple[Doc, ...]) -> None:
    data_dir = config(docs)["CLIPTRAIL_DATA_DIR"]
    for name, deployment in deployments(docs).items():
        pod = deployment["spec"]["template"]["spec"]
        mounts = {m["mountPath"]: m["name"] for m in app(pod)["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        for path in (data_dir, "/tmp"):
            assert "emptyDir" in volumes[mounts[path]], (name, path)
        assert all("emptyDir" in v or "secret" in v for v in volumes.values()), name


def env_names(docs: tuple[Doc, ...], container: Doc) -> set[str]:
    """The variables a container gets: its env and every key of what envFrom names."""
    names = {entry["name"] for entry in container.get("env", [])}
    sources = {
        doc["metadata"]["name"]: doc for doc in docs if doc["kind"] in ("ConfigMap", "Secret")
    }
    for ref in container.get("envFrom", []):
        source = ref.get("configMapRef") or ref["secretRef"]
        names |= set(sources[source["name"]]["data"])
    return names


def test_every_variable_is_a_setting(docs: tuple[Doc, ...]) -> None:
    known = set(setting_fields()) | PENDING_SETTINGS
    for name, pod in pod_specs(docs):
        names = env_names(docs, app(pod))
        assert names - known == set(), name
        assert "CLIPTRAIL_DATA_DIR" in names and "CLIPTRAIL_EMBEDDED" in names, name
    assert config(docs)["CLIPTRAIL_EMBEDDED"] == "0"


def secret_users(docs: tuple[Doc, ...], secret_prefix: str) -> set[str]:
    return {
        name
        for name, pod in pod_specs(docs)
        for entry in app(pod).get("env", [])
        if entry.get("valueFrom", {})
        .get("secretKeyRef", {})
        .get("name", "")
        .startswith(secret_prefix)
    }


def test_each_secret_reaches_only_the_services_that_need_it(docs: tuple[Doc, ...]) -> None:
    assert secret_users(docs, "cliptrail-r2-") == {"storage", "cliptrail-bootstrap"}
    assert secret_users(docs, "cliptrail-jwt-") == {"ingest"}
    assert secret_users(docs, "cliptrail-mongodb-") == {"tracking", "cliptrail-bootstrap"}
    for name, pod in pod_specs(docs):
        (nats,) = [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v]
        assert nats.startswith(f"cliptrail-nats-{name.removeprefix('cliptrail-')}-"), name


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    return selector["matchLabels"].items() <= labels.items()


def test_every_service_has_a_disruption_budget(docs: tuple[Doc, ...]) -> None:
    budgets = of_kind(docs, "PodDisruptionBudget")
    for name, deployment in deployments(docs).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets.values() if selects(b["spec"]["selector"], labels)]
        assert budget["spec"]["minAvailable"] < deployment["spec"]["replicas"], name


def test_ingest_and_render_autoscale_from_their_replica_count(docs: tuple[Doc, ...]) -> None:
    scalers = of_kind(docs, "HorizontalPodAutoscaler")
    assert {hpa["spec"]["scaleTargetRef"]["name"] for hpa in scalers.values()} == {
        "ingest",
        "render",
    }
    for hpa in scalers.values():
        target = deployments(docs)[hpa["spec"]["scaleTargetRef"]["name"]]
        assert hpa["spec"]["minReplicas"] == target["spec"]["replicas"]
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]


def test_ingest_is_reachable_through_its_service(docs: tuple[Doc, ...]) -> None:
    (service,) = of_kind(docs, "Service").values()
    ingest = deployments(docs)["ingest"]["spec"]["template"]
    assert selects({"matchLabels": service["spec"]["selector"]}, ingest["metadata"]["labels"])
    (port,) = service["spec"]["ports"]
    assert container_port(app(ingest["spec"]), port["targetPort"]) == 8080


def test_render_has_time_to_hand_a_render_back(docs: tuple[Doc, ...]) -> None:
    grace = {
        name: d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        for name, d in deployments(docs).items()
    }
    assert grace["render"] >= 120
    assert grace["render"] == max(grace.values())


def test_the_cluster_overlay_replicates_streams_over_three_nats_servers() -> None:
    base, cluster = render("base"), render("overlays/cluster")
    assert config(base)["CLIPTRAIL_STREAM_REPLICAS"] == "1"
    assert config(cluster)["CLIPTRAIL_STREAM_REPLICAS"] == "3"
    servers = config(cluster)["NATS_URL"].split(",")
    assert servers == [f"nats://nats-{i}.nats-headless:4222" for i in range(3)]
    (mongodb,) = [d for d in cluster if d["metadata"]["name"].startswith("cliptrail-mongodb-")]
    assert base64.b64decode(mongodb["data"]["MONGODB_URI"]).startswith(b"mongodb+srv://")
    for name, deployment in deployments(cluster).items():
        assert deployment["spec"]["replicas"] > deployments(base)[name]["spec"]["replicas"]
    assert {d["metadata"].get("namespace") for d in cluster} == {"cliptrail", None}


def test_nats_values_make_a_three_server_jetstream_cluster_the_overlay_names() -> None:
    values = yaml.safe_load((DEPLOY / "k8s" / "nats-values.yaml").read_text())
    cluster, jetstream = values["config"]["cluster"], values["config"]["jetstream"]
    assert cluster["enabled"] is True and cluster["replicas"] == 3
    assert jetstream["enabled"] is True
    assert jetstream["fileStore"]["enabled"] is True and jetstream["fileStore"]["pvc"]["enabled"]
    # The chart names pods <fullname>-N behind <fullname>-headless.
    hosts = config(render("overlays/cluster"))["NATS_URL"]
    assert hosts.count(f".{values['fullnameOverride']}-headless:") == cluster["replicas"]
