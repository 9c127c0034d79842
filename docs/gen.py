"""Generates docs/architecture.md's tables from the code; `python -m docs.gen` rewrites them.

Each table sits between `<!-- gen:NAME:begin -->` and `<!-- gen:NAME:end -->`; everything
outside the markers is prose and is left alone. tests/unit/test_architecture_doc.py fails when
a table no longer matches the code.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from libs.messaging.topology import ROUTES, SERVICES, Route, Topology
from libs.runtime.edge import Edge
from libs.settings import Settings
from libs.web.server import add_health_routes
from services.ingest.app import _add_api_routes
from services.ingest.app import edge as ingest_edge
from services.ingest.debug import DebugHandlers
from services.ingest.handlers import IngestEvents, IngestHandlers
from services.render.app import edge as render_edge
from services.render.handlers import RenderHandlers
from services.storage.app import edge as storage_edge
from services.storage.handlers import StorageHandlers
from services.tracking.app import edge as tracking_edge
from services.tracking.handlers import TrackingHandlers

DOC = Path(__file__).with_name("architecture.md")
TOPOLOGY = Topology()


class Names:
    """Stands in for a handlers class: each attribute is a no-op named after the real method
    (AttributeError for a method the class does not have)."""

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def __getattr__(self, name: str) -> Callable[..., Any]:
        getattr(self.cls, name)

        async def handler(*_args: object) -> None:
            return None

        handler.__qualname__ = f"{self.cls.__name__}.{name}"
        return handler


class SettingValue(int):
    """An int read from settings, shown with the setting's name."""

    setting: str

    def __new__(cls, setting: str) -> SettingValue:
        value = super().__new__(cls, Settings.model_fields[setting].default)
        value.setting = setting
        return value

    def __str__(self) -> str:
        return f"{self.setting.upper()} ({int(self)})"


def _tables() -> dict[str, Edge]:
    batch = SettingValue("tracking_batch_size")
    return {
        "ingest": ingest_edge(
            Names(IngestEvents),  # type: ignore[arg-type]
            TOPOLOGY,
            SettingValue("tus_sweep_seconds"),
        ),
        "storage": storage_edge(
            Names(StorageHandlers),  # type: ignore[arg-type]
            TOPOLOGY,
            SettingValue("multipart_sweep_seconds"),
        ),
        "tracking": tracking_edge(Names(TrackingHandlers), TOPOLOGY, batch),  # type: ignore[arg-type]
        "render": render_edge(Names(RenderHandlers), TOPOLOGY),  # type: ignore[arg-type]
    }


def _name(function: Any) -> str:
    return f"`{function.__qualname__.split('.<locals>.')[-1]}`" if function else "-"


def _join(names: frozenset[str]) -> str:
    return ", ".join(sorted(names))


def _route_row(route: Route) -> str:
    if route.reply is None:
        kind = TOPOLOGY.consumer("doc", route.name).stream
        message = route.message.__name__
    else:
        kind, message = "request-reply", f"{route.message.__name__} → {route.reply.__name__}"
    cells = [f"`{route.name}`", kind, message, _join(route.senders), _join(route.receivers)]
    return "| " + " | ".join(cells) + " |"


def routes() -> str:
    head = ["| subject | stream / kind | message | senders | receivers |", "|---|---|---|---|---|"]
    return "\n".join(head + [_route_row(route) for route in ROUTES])


def streams() -> str:
    rows = [f"| `{s.name}` | `{'`, `'.join(s.subjects)}` |" for s in TOPOLOGY.streams]
    return "\n".join(["| stream | subjects |", "|---|---|", *rows])


def edge_table(service: str) -> str:
    table = _tables()[service]
    lines = ["| consumes (durable) | subject | handler | batch | give up | on dead |"]
    lines.append("|---|---|---|---|---|---|")
    for c in table.consumes:
        durable = TOPOLOGY.route(c.subject).durable(service)
        cells = [f"`{durable}`", f"`{c.subject}`", _name(c.handler), str(c.batch)]
        give_up = "yes" if c.give_up else "no"
        lines.append("| " + " | ".join([*cells, give_up, _name(c.on_dead)]) + " |")
    if table.answers:
        lines += ["", "| answers | handler |", "|---|---|"]
        lines += [f"| `{a.subject}` | {_name(a.handler)} |" for a in table.answers]
    if table.periodic:
        lines += ["", "| every (seconds) | job |", "|---|---|"]
        lines += [f"| {p.seconds} | {_name(p.job)} |" for p in table.periodic]
    sent = [route.name for route in ROUTES if service in route.senders]
    return "\n".join([*lines, "", "Sends: " + ", ".join(f"`{name}`" for name in sent) + "."])


def http_routes() -> str:
    app = web.Application()
    add_health_routes(app, {})
    _add_api_routes(app, Names(IngestHandlers), Names(DebugHandlers))  # type: ignore[arg-type]
    rows = [
        f"| {route.method} | `{route.resource.canonical}` | {_name(route.handler)} |"
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    ]
    return "\n".join(["| method | path | handler |", "|---|---|---|", *rows])


SECTIONS: dict[str, Callable[[], str]] = {
    "routes": routes,
    "streams": streams,
    **{f"edge-{service}": partial(edge_table, service) for service in SERVICES},
    "http-ingest": http_routes,
}


def render(text: str) -> str:
    """The document with every generated section rewritten from the code."""
    for name, make in SECTIONS.items():
        begin, end = f"<!-- gen:{name}:begin -->\n", f"<!-- gen:{name}:end -->"
        if begin not in text or end not in text:
            raise ValueError(f"docs/architecture.md lacks the markers of section {name!r}")
        head, rest = text.split(begin, 1)
        text = f"{head}{begin}{make()}\n{end}{rest.split(end, 1)[1]}"
    return text


def main() -> None:
    DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
