"""Die with the supervisor: a service `make run` started stops when the supervisor is gone.

The supervisor (deploy/stack.py) keeps the write end of a pipe and passes the read end to each
service, naming its descriptor in CLIPTRAIL_PARENT_WATCH. Nothing is ever written: the kernel
closes the write end when the supervisor exits however it exits (even SIGKILL), and the read
returns end-of-file. A pipe rather than PR_SET_PDEATHSIG: no preexec_fn in a supervisor that
has threads, and the service gets to shut down as it does on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import MutableMapping

PARENT_WATCH_ENV = "CLIPTRAIL_PARENT_WATCH"
GRACE_SECONDS = 10.0


def watch_parent(environ: MutableMapping[str, str] = os.environ) -> None:
    """If started with a lifeline, SIGTERM this process when it breaks (os._exit after a grace).

    The variable is removed so that a process this one starts never mistakes another
    descriptor with that number for a lifeline.
    """
    fd = environ.pop(PARENT_WATCH_ENV, None)
    if fd is not None:
        threading.Thread(target=_stop_when_closed, args=(int(fd),), daemon=True).start()


def _stop_when_closed(fd: int) -> None:
    while os.read(fd, 1):
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    os._exit(1)
