"""deploy/observability: the Grafana dashboard and the Prometheus alert rules parse, their PromQL
parses, and every metric and label they name is one the services export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from prometheus_client.metrics import MetricWrapperBase

from libs.observability import metrics
from libs.observability.metrics import REGISTRY

HERE = Path(__file__).resolve().parents[2] / "deploy" / "observability"
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported() -> dict[str, set[str]]:
    """Every series name the registry can serve, with the label names it may carry."""
    labels = {
        m._name: set(m._labelnames)
        for m in vars(metrics).values()
        if isinstance(m, MetricWrapperBase)
    }
    names: dict[str, set[str]] = {}
    for family in REGISTRY.collect():
        own = labels.get(family.name, set()) | ({"le"} if family.type == "histogram" else set())
        for suffix in _SUFFIXES.get(family.type, ("",)):
            names[family.name + suffix] = own
        for sample in family.samples:
            names.setdefault(sample.name, set(sample.labels))
    return names


def selectors(node: Any) -> Iterator[Any]:
    if type(node).__name__ == "VectorSelector":
        yield node
    for attribute in ("expr", "lhs", "rhs", "args", "param", "vector_selector"):
        child = getattr(node, attribute, None)
        for item in child if isinstance(child, list) else [child]:
            if type(item).__module__.startswith("promql"):
                yield from selectors(item)


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((HERE / "grafana-dashboard.json").read_text())
    return loaded


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((HERE / "alerts.yaml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def expressions() -> list[str]:
    panels = [t["expr"] for p in dashboard()["panels"] for t in p["targets"]]
    return panels + [rule["expr"] for rule in rules()]


def test_every_metric_and_label_named_is_exported() -> None:
    known = exported()
    for expr in expressions():
        found = list(selectors(promql_parser.parse(expr)))
        assert found, expr
        for selector in found:
            assert selector.name in known, f"{selector.name} is not exported ({expr})"
            used = {m.name for m in selector.matchers.matchers}
            assert used <= known[selector.name] | {"job", "instance"}, (selector.name, used)


def test_the_dashboard_shows_what_an_operator_asks_first() -> None:
    titles = " | ".join(p["title"].lower() for p in dashboard()["panels"])
    for topic in ("upload", "latency", "error ratio", "consumer lag", "dead letters", "renders",
                  "bucket bytes", "ledger drift"):  # fmt: skip
        assert topic in titles, topic
    assert len({p["id"] for p in dashboard()["panels"]}) == len(dashboard()["panels"])


def test_the_alerts_cover_the_failures_that_need_a_person() -> None:
    named = {rule["alert"] for rule in rules()}
    assert named == {
        "CliptrailDeadLettersGrowing",
        "CliptrailConsumerLag",
        "CliptrailHttp5xxRatio",
        "CliptrailLedgerDrift",
        "CliptrailStorageNotAnswering",
    }
    for rule in rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["for"]
