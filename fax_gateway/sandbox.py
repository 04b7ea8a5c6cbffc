"""The one entry point for every document from outside: checked in a child process.

    inbound webhook · bridge upload · referral attachment · Outbox.submit
        └─► Sandbox.inspect(data, kinds=…) ─► DocumentFacts (kind, pages, pixels)
            Sandbox.as_pdf(data, kinds=…)  ─► (PDF bytes, DocumentFacts)
                 │ over max_bytes: refused here (413), nothing sent anywhere
                 ▼
            sandbox_server child: RLIMIT_AS, RLIMIT_CPU, alarm(wall) ─► probe
                 │ a limit hit: the child dies, no reply ─► refused (422)

Callers get :class:`DocumentRefused` with a reason a person can act on and
the HTTP status a webhook answers. The limits are the ``fax.documents``
settings (:class:`DocumentSettings`); one server runs per distinct limits in
a process (:func:`shared_sandbox`), started on first use and stopped when
the process exits.
"""

from __future__ import annotations

import atexit
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fax_gateway.probe import DocumentFacts, DocumentRefused, ProbeLimits
from fax_gateway.sandbox_server import frame, read_message

_SERVER = Path(__file__).with_name("sandbox_server.py")


class DocumentSettings(BaseModel):
    """``fax.documents``: what an untrusted document may be, and what checking it may cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_pages: int = Field(default=500, ge=1)
    max_pixels: int = Field(default=25_000_000, ge=10_000)
    memory_mb: int = Field(default=256, ge=64)
    cpu_seconds: int = Field(default=2, ge=1)
    wall_seconds: int = Field(default=3, ge=1)

    @property
    def probe_limits(self) -> ProbeLimits:
        return ProbeLimits(self.max_bytes, self.max_pages, self.max_pixels)


class Sandbox:
    """A client of one sandbox server; safe to call from any thread."""

    def __init__(
        self, settings: DocumentSettings | None = None, *, accounting: Path | None = None
    ) -> None:
        """``accounting``: a file where the server notes each child's end and peak RSS."""
        self.settings = settings or DocumentSettings()
        self._accounting = accounting
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    # -- what callers use ----------------------------------------------------------

    def inspect(self, data: bytes, *, kinds: tuple[str, ...] = ()) -> DocumentFacts:
        """The facts of ``data``; :class:`DocumentRefused` when over a limit or not of ``kinds``."""
        facts, _ = self._ask(data, kinds, convert=None)
        return facts

    def as_pdf(self, data: bytes, *, kinds: tuple[str, ...] = ()) -> tuple[bytes, DocumentFacts]:
        """``data`` as a PDF: a PDF as it is, a fax TIFF losslessly, an image as one page."""
        facts, converted = self._ask(data, kinds, convert="pdf")
        return (converted if facts.kind != "pdf" else data), facts

    def close(self) -> None:
        """Stop the server (its children exit with it)."""
        with self._lock:
            process, self._process = self._process, None
            if process is not None:
                assert process.stdin is not None
                process.stdin.close()
                process.wait(timeout=10)
                assert process.stdout is not None
                process.stdout.close()
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None

    # -- the conversation with the server ----------------------------------------------

    def _ask(
        self, data: bytes, kinds: tuple[str, ...], *, convert: str | None
    ) -> tuple[DocumentFacts, bytes]:
        limits = self.settings.probe_limits
        if len(data) > limits.max_bytes:  # refused before a byte is copied
            raise DocumentRefused(
                f"the file is {len(data) / 2**20:.1f} MiB; the limit is "
                f"{limits.max_bytes / 2**20:.1f} MiB", 413,
            )
        header = {
            "limits": {"max_bytes": limits.max_bytes, "max_pages": limits.max_pages,
                       "max_pixels": limits.max_pixels},
            "kinds": list(kinds),
            "convert": convert,
        }
        reply, payload = self._exchange(frame(header, data))
        if "refused" in reply:
            raise DocumentRefused(str(reply["refused"]), int(reply.get("status", 422)))
        return DocumentFacts(**reply["facts"]), payload

    def _exchange(self, message: bytes) -> tuple[dict[str, Any], bytes]:
        path = self._socket_path()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(self.settings.wall_seconds + 1)
            try:
                conn.connect(str(path))
            except OSError:  # the server died: start another, once
                self._restart()
                conn.connect(str(self._socket_path()))
            try:
                conn.sendall(message)
                reply, payload = read_message(conn, 8 * self.settings.max_bytes)
            except (OSError, ValueError, json.JSONDecodeError):
                raise DocumentRefused(
                    "the document could not be checked within the sandbox's memory and time "
                    "limits; it is too complex to accept", 422,
                ) from None
        return reply, payload

    def _socket_path(self) -> Path:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._start()
            assert self._dir is not None
            return self._dir / "sandbox.sock"

    def _restart(self) -> None:
        with self._lock:
            if self._process is not None:
                self._process.kill()
                self._process.wait()
            self._process = None

    def _start(self) -> None:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="curbside-sandbox-"))
        path = self._dir / "sandbox.sock"
        path.unlink(missing_ok=True)
        settings = self.settings
        self._process = subprocess.Popen(
            [
                sys.executable, "-P", str(_SERVER), "--socket", str(path),
                "--memory-bytes", str(settings.memory_mb * 2**20),
                "--cpu-seconds", str(settings.cpu_seconds),
                "--wall-seconds", str(settings.wall_seconds),
                "--max-message", str(settings.max_bytes + 65536),
                *(["--accounting", str(self._accounting)] if self._accounting else []),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdout is not None
        if self._process.stdout.readline() != b"ready\n":
            raise RuntimeError("the document sandbox did not start; see its stderr")


_SHARED: dict[DocumentSettings, Sandbox] = {}
_SHARED_LOCK = threading.Lock()


def shared_sandbox(settings: DocumentSettings | None = None) -> Sandbox:
    """The process's sandbox for ``settings``: one server however many callers share it."""
    settings = settings or DocumentSettings()
    with _SHARED_LOCK:
        if settings not in _SHARED:
            _SHARED[settings] = Sandbox(settings)
        return _SHARED[settings]


@atexit.register
def _close_shared() -> None:
    for sandbox in list(_SHARED.values()):
        sandbox.close()
