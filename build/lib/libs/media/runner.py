"""Running media processes (the bundled ffmpeg, the probe worker): bounded concurrency, a
deadline, a memory limit, and what ffmpeg's log says went wrong."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import resource
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import imageio_ffmpeg

from libs.errors import PermanentError

_DIRECTORIES = re.compile(r"(?:/[^/\s:'\"]+)+/")
_COMPONENT = re.compile(r"^(?:\[[^\]]+ @ 0x[0-9a-f]+\] ?)+")
# What ffmpeg logs on its way out after the real problem was named.
_AFTERMATH = re.compile(
    r"Task finished|Terminating thread|Could not open encoder|Nothing was written"
    r"|Error reinitializing|Failed to configure|error rate|Conversion failed"
)
# How an allocation refused by RLIMIT_AS shows in ffmpeg's log: ENOMEM, EAGAIN from a thread
# or a decoder that could not start, an encoder (x264) that could not allocate its frames.
_STARVED = re.compile(
    r"Cannot allocate memory|Resource temporarily unavailable|malloc|Error while opening encoder"
)


class FfmpegError(PermanentError):
    """ffmpeg refused or failed: the input or the request cannot be rendered as it is."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


class ProcessTimeoutError(FfmpegError):
    """A process ran past its deadline and was killed."""


@cache
def ffmpeg_exe() -> str:
    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


def last_words(stderr: str) -> str:
    """The last line of ffmpeg's log that names the problem, without the server's paths."""
    lines = [_COMPONENT.sub("", line.strip()) for line in stderr.splitlines() if line.strip()]
    telling = [line for line in lines if not _AFTERMATH.search(line)] or lines
    return _DIRECTORIES.sub("", telling[-1])[:300] if telling else "no message"


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: bytes
    stderr: str


def memory_limit(limit_bytes: int | None) -> Callable[[], None] | None:
    """What the child runs between fork and exec: cap its address space (RLIMIT_AS)."""
    if not limit_bytes:
        return None
    return functools.partial(resource.setrlimit, resource.RLIMIT_AS, (limit_bytes, limit_bytes))


def child_env(limit_bytes: int | None) -> dict[str, str] | None:
    """glibc reserves 64 MiB of address space per malloc arena (up to 8 per core), which
    RLIMIT_AS counts although it is never touched; two arenas keep the cap close to real use."""
    return {**os.environ, "MALLOC_ARENA_MAX": "2"} if limit_bytes else None


async def finish(args: list[str], timeout: float, memory_bytes: int | None = None) -> Finished:  # noqa: ASYNC109
    """Run one process to its end; killed at its deadline (ProcessTimeoutError) or when
    cancelled, so none is ever left behind."""
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=memory_limit(memory_bytes),
        env=child_env(memory_bytes),
    )
    try:
        stdout, stderr = await _output_within(process, timeout)
    finally:
        await _stop(process)
    return Finished(process.returncode or 0, stdout, stderr.decode(errors="replace"))


async def run_process(args: list[str], timeout: float, memory_bytes: int | None = None) -> str:  # noqa: ASYNC109
    """Run ffmpeg to its end and return its log; a failure or overrun raises FfmpegError."""
    finished = await finish(args, timeout, memory_bytes)
    if finished.returncode != 0:
        detail = last_words(finished.stderr)
        raise FfmpegError(failure(finished, memory_bytes, detail), detail)
    return finished.stderr


def failure(finished: Finished, memory_bytes: int | None, detail: str) -> str:
    starved = finished.returncode < 0 or _STARVED.search(finished.stderr)
    if memory_bytes and starved:
        limit = f"{memory_bytes / 2**20:g} MiB"
        return f"ffmpeg ran out of memory (limit {limit}): {detail}"
    return f"ffmpeg failed: {detail}"


async def _output_within(
    process: asyncio.subprocess.Process,
    timeout: float,  # noqa: ASYNC109
) -> tuple[bytes, bytes]:
    try:
        async with asyncio.timeout(timeout):
            return await process.communicate()
    except TimeoutError as exc:
        message = f"ffmpeg ran longer than {timeout:g} s and was stopped"
        raise ProcessTimeoutError(message) from exc


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Timed out or cancelled: never leave the process running."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


class FfmpegRunner:
    """At most `concurrency` processes at once, each under the same memory limit."""

    def __init__(self, concurrency: int, memory_bytes: int | None = None) -> None:
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self.memory_bytes = memory_bytes

    async def run(self, args: list[str], timeout: float) -> str:  # noqa: ASYNC109
        async with self._slots:
            return await run_process(args, timeout, self.memory_bytes)
