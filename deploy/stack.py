"""`make run`: the embedded servers, the bootstrap, the four services; Ctrl-C stops them all."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

from deploy.bootstrap import bootstrap
from deploy.servers import (
    ProcessSpec,
    StackError,
    load_processes,
    placeholder_values,
    start_server,
    stop_process,
)
from libs.errors import CliptrailError
from libs.settings import Settings
from libs.web.auth import issue_token

RESTART_LIMIT = 5


class Stop(Exception):
    """SIGINT or SIGTERM arrived."""


def _raise_stop(_signum: int, _frame: FrameType | None) -> None:
    raise Stop


@dataclass
class Stack:
    settings: Settings
    servers: list[tuple[ProcessSpec, subprocess.Popen[bytes]]] = field(default_factory=list)
    services: dict[str, tuple[ProcessSpec, subprocess.Popen[bytes]]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)

    def start(self) -> None:
        server_specs, service_specs = load_processes(placeholder_values(self.settings))
        if self.settings.embedded:
            for spec in server_specs:
                say(f"starting {spec.name} ({spec.url})")
                self.servers.append((spec, start_server(spec, self.settings.data_dir / "logs")))
        asyncio.run(bootstrap(self.settings))
        for spec in service_specs:
            self._start_service(spec)

    def _start_service(self, spec: ProcessSpec) -> None:
        self.services[spec.name] = (spec, subprocess.Popen(spec.argv, start_new_session=True))

    def watch(self) -> None:
        """Restart a service that dies (a crash may delay work, never lose it)."""
        while True:
            time.sleep(0.5)
            for name, (spec, process) in list(self.services.items()):
                if process.poll() is None:
                    continue
                self.restarts[name] = self.restarts.get(name, 0) + 1
                if self.restarts[name] > RESTART_LIMIT:
                    raise StackError(f"{name} keeps exiting (code {process.returncode})")
                say(f"{name} exited with {process.returncode}; restarting")
                self._start_service(spec)
            self._check_servers()

    def _check_servers(self) -> None:
        for spec, server in self.servers:
            if server.poll() is not None:
                raise StackError(f"{spec.argv[0]} exited with {server.returncode}")

    def stop(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        for _spec, process in reversed(list(self.services.values())):
            stop_process(process)
        for _spec, server in reversed(self.servers):
            stop_process(server)


def say(message: str) -> None:
    print(f"cliptrail: {message}", flush=True)


def announce(settings: Settings) -> None:
    secret = settings.auth_jwt_secret.get_secret_value()
    url = f"http://{settings.http_host}:{settings.http_port}"
    say(f"API at {url}/api/v1  (OpenAPI: {url}/api/v1/openapi.json)")
    say(f"dev token for user 'dev': {issue_token(secret, 'dev')}")
    say("more tokens: make token USER=alice [ADMIN=1]; stop with Ctrl-C")


def main() -> None:
    settings = Settings()
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    stack = Stack(settings)
    try:
        stack.start()
        announce(settings)
        stack.watch()
    except Stop:
        say("stopping")
    except (StackError, CliptrailError) as exc:
        say(f"error: {exc}")
        stack.stop()
        sys.exit(1)
    stack.stop()
    say("stopped")


if __name__ == "__main__":
    main()
