"""Three hosts on one machine: the loopback addresses 127.0.0.11, .12 and .13 (Linux routes all
of 127.0.0.0/8 to `lo`). Each host runs a node of a 3-node NATS JetStream cluster and one
replica of each service, with its own data dir, all bound to its address; nanio and SecantusDB
are the shared external services (the session's). A host can be SIGKILLed whole and restarted.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import ClientSession

from deploy.natsauth import ensure_seeds
from deploy.servers import ProcessSpec, start_server, stop_processes
from libs.messaging.permissions import ANY_PREFIX, nats_authorization
from libs.settings import Settings
from tests.support import answers_ok, eventually, spawn

ADDRESSES = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
SERVICES = ("storage", "tracking", "render", "ingest")
HEALTH_PORTS = {
    "storage": "storage_health_port",
    "tracking": "tracking_health_port",
    "render": "render_health_port",
    "ingest": "http_port",
}


def free_port_on(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Host:
    index: int
    address: str
    root: Path
    client_port: int
    cluster_port: int
    settings: Settings = field(init=False)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def nats_url(self) -> str:
        return f"nats://{self.address}:{self.client_port}"

    @property
    def ingest_url(self) -> str:
        return f"http://{self.address}:{self.settings.http_port}"

    def ready_urls(self) -> list[str]:
        ports = [getattr(self.settings, HEALTH_PORTS[name]) for name in SERVICES]
        return [f"http://{self.address}:{port}/readyz" for port in ports]


def make_hosts(root: Path) -> list[Host]:
    return [
        Host(index, address, root / f"host{index}", free_port_on(address), free_port_on(address))
        for index, address in enumerate(ADDRESSES, start=1)
    ]


def node_config(host: Host, peers: list[Host], authorization: str) -> str:
    """One node: its own name, address, client and cluster ports, store dir and routes to the
    other two; the same generated authorization on every node."""
    routes = ", ".join(f'"nats-route://{peer.address}:{peer.cluster_port}"' for peer in peers)
    return (
        f"server_name: node{host.index}\n"
        f'listen: "{host.address}:{host.client_port}"\n'
        "max_payload: 8MB\n"
        f'jetstream {{ store_dir: "{host.root / "nats"}", max_memory_store: 64MB, '
        "max_file_store: 2GB }\n"
        f'cluster {{ name: cliptrail, listen: "{host.address}:{host.cluster_port}", '
        f"routes: [{routes}] }}\n"
        f"{authorization}\n"
    )


def host_settings(base: Settings, host: Host, hosts: list[Host]) -> Settings:
    """The host's services: bound to its address, its own ports and data dir, its own NATS node
    listed first (a client connects to any of the three)."""
    others = [other.nats_url for other in hosts if other is not host]
    update: dict[str, object] = {
        "nats_url": ",".join([host.nats_url, *others]),
        "http_host": host.address,
        "data_dir": host.root / "data",
    }
    update |= {HEALTH_PORTS[name]: free_port_on(host.address) for name in SERVICES}
    return base.model_copy(update=update)


@dataclass
class Cluster:
    hosts: list[Host]
    admin: Settings  # the test's own view: admin identity, all three nodes
    secrets_dir: Path

    @property
    def ingest_urls(self) -> list[str]:
        return [host.ingest_url for host in self.hosts]

    def write_configs(self) -> None:
        authorization = nats_authorization(ensure_seeds(self.secrets_dir), ANY_PREFIX)
        for host in self.hosts:
            peers = [peer for peer in self.hosts if peer is not host]
            host.root.mkdir(parents=True, exist_ok=True)
            (host.root / "nats.conf").write_text(node_config(host, peers, authorization))

    def start_node(self, host: Host) -> None:
        binary = str(Path(sys.executable).parent / "nats-server")
        argv = [binary, "-c", str(host.root / "nats.conf")]
        spec = ProcessSpec(f"nats{host.index}", argv, ready="nats", url=host.nats_url)
        host.processes.append(start_server(spec, host.root / "logs"))

    def start_services(self, host: Host) -> None:
        logs = host.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            module = f"services.{name}.main"
            host.processes.append(spawn(module, host.settings, logs / f"{name}.log"))

    async def wait_ready(self, host: Host, http: ClientSession) -> None:
        for url in host.ready_urls():
            await eventually(lambda url=url: answers_ok(http, url), timeout=60, interval=0.2)

    def kill(self, host: Host) -> None:
        """SIGKILL every process of the host at once: its NATS node and its four services."""
        for process in host.processes:
            process.send_signal(signal.SIGKILL)
        for process in host.processes:
            process.wait()
        host.processes.clear()

    def stop(self) -> None:
        stop_processes([process for host in self.hosts for process in host.processes])
