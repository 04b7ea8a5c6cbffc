"""Processes that live and die with `curbside up`, and what is checked before it starts.

    curbside up ──preflight──> lock data_dir ─> no Synapse left running on its config?
                               ─> every port we will listen on free?
                ──Popen(preexec_fn=die_with_parent(...))──> Synapse
                     parent gone (any signal, even SIGKILL) ─> kernel sends SIGTERM

A child started with :func:`die_with_parent` is sent a signal by the kernel
(``PR_SET_PDEATHSIG``) when the process that started it ends, however it
ends: SIGKILL of `curbside up` runs none of its clean-up code, so nothing
else can stop the homeserver. Checks before start turn "the new Synapse failed
to bind and Curbside quietly used the old one" into a message that says what
to do, with an exit code of its own (see :class:`ExitCode`).
"""

from __future__ import annotations

import ctypes
import enum
import errno
import fcntl
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


class ExitCode(enum.IntEnum):
    """Exit codes of `curbside up` that are not the bridge's (10-14, bridge/errors.py)."""

    PORT_IN_USE = 20
    ALREADY_RUNNING = 21


class PreflightError(RuntimeError):
    """`curbside up` cannot start; ``str()`` says why and what to do."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child receive ``sig`` when this process ends.

    Runs in the child between fork and exec. If the parent is already gone by
    then (it died before ``prctl`` took effect), the child exits at once.
    """
    parent = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        if libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
            os._exit(127)
        if os.getppid() != parent:
            os._exit(1)

    return arm


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something already listens on ``host:port``.

    With SO_REUSEADDR, as the servers we start use it, so connections of an
    earlier run still in TIME_WAIT do not count as the port being taken.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def processes_with(argument: str) -> list[int]:
    """Pids of the processes (other than this one) whose command line has ``argument``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # ended while we looked
        pid = int(cmdline.parent.name)
        if pid != os.getpid() and argument.encode() in argv:
            found.append(pid)
    return found


@dataclass(frozen=True)
class Listener:
    """A port `curbside up` will listen on, and the settings key that chooses it."""

    port: int
    what: str
    key: str


class InstanceLock:
    """One `curbside up` per data directory, held for as long as the process lives.

    An ``flock`` is released by the kernel when its holder dies, so a killed
    `curbside up` never leaves a stale lock behind.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "curbside-up.pid"
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise PreflightError(
                ExitCode.ALREADY_RUNNING,
                f"`curbside up` is already running on {self.path.parent} (pid {holder}). "
                f"Use that one, or stop it first (Ctrl-C in its terminal, or `kill {holder}`).",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def check_no_homeserver(config_path: Path) -> None:
    """Refuse to start a homeserver where one of an earlier run still runs.

    A Synapse runs "on the data directory" when its command line names that
    directory's homeserver config; no pid file is trusted (Synapse writes one
    only when it daemonises, and a killed one leaves it stale).
    """
    pids = processes_with(str(config_path))
    if pids:
        pid = pids[0]
        raise PreflightError(
            ExitCode.ALREADY_RUNNING,
            f"a homeserver is already running on this data directory (pid {pid}, "
            f"with {config_path}), left over from an earlier run. Stop it with `kill {pid}`, "
            "then run `curbside up` again.",
        )


def check_ports_free(listeners: list[Listener]) -> None:
    """Refuse to start when a port we need is taken, naming it and the key that sets it."""
    busy = [listener for listener in listeners if port_in_use(listener.port)]
    if busy:
        lines = [
            f"port {b.port} ({b.what}, config key {b.key}) is already in use" for b in busy
        ]
        ports = ",".join(str(b.port) for b in busy)
        raise PreflightError(
            ExitCode.PORT_IN_USE,
            "\n".join(lines)
            + f"\nFind what holds it with `ss -ltnp 'sport = :{busy[0].port}'` "
            f"(ports {ports}); stop that process, or choose another port in the config.",
        )
