"""`make run`: the embedded servers, the bootstrap, the four services; Ctrl-C stops them all.

Stopping: SIGINT, SIGTERM and SIGHUP only set a flag (a handler never raises, so a second
signal, e.g. GNU make forwarding the SIGTERM a process group already got, cannot cut a shutdown
short); the supervisor then stops the services, then the servers. If the supervisor itself is
killed, its children still go: the services watch a pipe (libs/runtime/lifeline.py), the servers get
SIGTERM from the kernel (deploy/servers.py, _die_with_parent).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

from deploy.bootstrap import bootstrap
from deploy.devsecret import with_jwt_secret
from deploy.natsauth import write_server_config
from deploy.servers import (
    ProcessSpec,
    StackError,
    load_processes,
    nats_config_path,
    placeholder_values,
    start_server,
    stop_processes,
)
from libs.errors import CliptrailError
from libs.messaging.permissions import seed_file
from libs.runtime.lifeline import PARENT_WATCH_ENV
from libs.settings import Settings
from libs.web.auth import issue_token

RESTART_LIMIT = 5
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Stack:
    settings: Settings
    servers: list[tuple[ProcessSpec, subprocess.Popen[bytes]]] = field(default_factory=list)
    services: dict[str, tuple[ProcessSpec, subprocess.Popen[bytes]]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    stopping: bool = False
    # The read end goes to every service; the write end only ever lives here
    # (see libs/runtime/lifeline.py)
    lifeline: tuple[int, int] = field(default_factory=os.pipe)

    def request_stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        """Start, serve until a stop is requested or something fails, stop; the exit code."""
        code = 0
        try:
            self.start()
            if not self.stopping:
                announce(self.settings)
                self.watch()
        except (StackError, CliptrailError) as exc:
            if not self.stopping:  # a start cut short by a stop request is no error
                say(f"error: {exc}")
                code = 1
        finally:
            say("stopping")
            self.stop()
        say("stopped")
        return code

    def start(self) -> None:
        server_specs, service_specs = load_processes(placeholder_values(self.settings))
        # Written with CLIPTRAIL_EMBEDDED=0 too: the authorization an external server needs.
        write_server_config(
            nats_config_path(self.settings), self.settings.secrets_dir, self.settings.nats_prefix
        )
        for spec in server_specs if self.settings.embedded else []:
            if self.stopping:
                return
            say(f"starting {spec.name} ({spec.url})")
            logs = self.settings.data_dir / "logs"
            self.servers.append((spec, start_server(spec, logs, cancelled=self._is_stopping)))
        if not self.stopping:
            asyncio.run(bootstrap(self.as_identity("bootstrap")))
        for spec in [] if self.stopping else service_specs:
            self._start_service(spec)

    def as_identity(self, identity: str) -> Settings:
        seed = seed_file(self.settings.secrets_dir.resolve(), identity)
        return self.settings.model_copy(update={"nats_nkey_seed_file": seed})

    def _is_stopping(self) -> bool:
        return self.stopping

    def _start_service(self, spec: ProcessSpec) -> None:
        read_end = self.lifeline[0]
        seed = seed_file(self.settings.secrets_dir.resolve(), spec.name)
        env = {**os.environ, PARENT_WATCH_ENV: str(read_end), "NATS_NKEY_SEED_FILE": str(seed)}
        if spec.name == "ingest":  # the only service that checks tokens gets the secret
            env["AUTH_JWT_SECRET"] = self.settings.auth_jwt_secret.get_secret_value()
        process = subprocess.Popen(spec.argv, env=env, pass_fds=[read_end], start_new_session=True)
        self.services[spec.name] = (spec, process)

    def watch(self) -> None:
        """Restart a service that dies (a crash may delay work, never lose it)."""
        while not self.stopping:
            time.sleep(0.5)
            for name, (spec, process) in list(self.services.items()):
                if process.poll() is None or self.stopping:
                    continue
                self.restarts[name] = self.restarts.get(name, 0) + 1
                if self.restarts[name] > RESTART_LIMIT:
                    raise StackError(f"{name} keeps exiting (code {process.returncode})")
                say(f"{name} exited with {process.returncode}; restarting")
                self._start_service(spec)
            self._check_servers()

    def _check_servers(self) -> None:
        for spec, server in self.servers:
            if server.poll() is not None and not self.stopping:
                raise StackError(f"{spec.argv[0]} exited with {server.returncode}")

    def stop(self) -> None:
        """The services first (they may still be talking to the servers), then the servers."""
        self.stopping = True
        stop_processes([process for _spec, process in self.services.values()])
        stop_processes([server for _spec, server in self.servers])


def say(message: str) -> None:
    try:
        print(f"cliptrail: {message}", flush=True)
    except OSError:  # the terminal is gone (SIGHUP): stopping must go on, silently
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115


def announce(settings: Settings) -> None:
    secret = settings.auth_jwt_secret.get_secret_value()
    url = f"http://{settings.http_host}:{settings.http_port}"
    say(f"API at {url}/api/v1  (OpenAPI: {url}/api/v1/openapi.json)")
    say(f"dev token for user 'dev': {issue_token(secret, 'dev')}")
    say("more tokens: make token USER=alice [ADMIN=1]; stop with Ctrl-C")


def main() -> None:
    stack = Stack(with_jwt_secret(Settings()))
    for sig in STOP_SIGNALS:
        signal.signal(sig, stack.request_stop)
    code = stack.run()
    for sig in STOP_SIGNALS:  # not back to the default, which Python restores while exiting
        signal.signal(sig, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    main()
