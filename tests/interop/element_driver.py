"""Drive the Element-like Node client (``element_client/client.mjs``) from asyncio tests.

Flow::

    test ──command line──> node client.mjs ──matrix-js-sdk + rust crypto──> Synapse
         <──reply line────                 (OnlySignedDevicesIsolationMode)
         <──message lines── (every room message from others, re-sent whenever
                             its decryption state changes)

One long-lived Node process per client keeps its crypto store in memory, so a
test can log in once and then send, wait and download in several steps. Every
wait has a timeout; on failure the error carries the tail of Node's stderr,
because that is where the SDK explains what went wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

CLIENT_DIR = Path(__file__).parent / "element_client"
NPM_CI_COMMAND = ("npm", "ci", "--prefix", str(CLIENT_DIR), "--no-audit", "--no-fund")
COMMAND_TIMEOUT = 60.0
STDERR_TAIL_LINES = 40


class ElementClientError(RuntimeError):
    """The Node client reported an error, timed out or died."""


@dataclass(frozen=True, slots=True)
class ElementMessage:
    """One room message as the Element-like client sees it."""

    room_id: str
    event_id: str
    sender: str
    encrypted: bool
    decryption_failed: bool
    failure_reason: str | None
    msgtype: str | None
    body: str | None
    has_file: bool
    shield_colour: str | None
    """``NONE``, ``GREY`` or ``RED`` (matrix-js-sdk's EventShieldColour), None if undecrypted."""
    shield_reason: str | None
    """EventShieldReason name when there is a shield, e.g. ``UNSIGNED_DEVICE``."""


def node_tools_missing() -> str | None:
    """Say which of ``node``/``npm`` is missing, or ``None`` when both are installed."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not installed" if missing else None


def ensure_node_modules() -> None:
    """Install the pinned npm packages when ``npm ci`` has not been run yet.

    The Makefile runs the same command before the tests; doing it here too keeps
    ``pytest tests/interop`` working on a fresh checkout.
    """
    if (CLIENT_DIR / "node_modules" / "matrix-js-sdk" / "package.json").exists():
        return
    done = subprocess.run(NPM_CI_COMMAND, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise ElementClientError(
            f"`{' '.join(NPM_CI_COMMAND)}` failed ({done.returncode}):\n{done.stderr[-4000:]}"
        )


class ElementClient:
    """One running ``client.mjs`` process: send commands, collect the messages it reports."""

    def __init__(self, process: asyncio.subprocess.Process, stderr_path: Path) -> None:
        self._process = process
        self._stderr_path = stderr_path
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._messages: dict[str, ElementMessage] = {}
        self._changed = asyncio.Condition()
        self._ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_stdout())

    @classmethod
    async def start(cls, stderr_path: Path) -> Self:
        """Start the Node process and wait until it has loaded the SDK and the crypto wasm."""
        await asyncio.to_thread(ensure_node_modules)
        stderr = stderr_path.open("wb")
        try:
            process = await asyncio.create_subprocess_exec(
                "node",
                str(CLIENT_DIR / "client.mjs"),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                limit=1 << 20,
            )
        finally:
            stderr.close()
        client = cls(process, stderr_path)
        try:
            await asyncio.wait_for(asyncio.shield(client._ready), COMMAND_TIMEOUT)
        except TimeoutError:
            await client.close()
            raise ElementClientError(f"client.mjs did not start{client._stderr_tail()}") from None
        except ElementClientError:
            await client.close()
            raise
        return client

    async def login(self, homeserver: str, user: str, password: str) -> dict[str, Any]:
        """Log in and set up rust crypto, cross-signing, secret storage and strict isolation."""
        return await self._call("login", homeserver=homeserver, user=user, password=password)

    async def join(self, room: str) -> str:
        """Join ``room`` (id or alias) and wait until it is known to be encrypted."""
        result = await self._call("join", room=room)
        return str(result["room_id"])

    async def wait_device(self, user_id: str, device_id: str, *, cross_signed: bool) -> None:
        """Wait until this client knows the device, cross-signed by its owner or not.

        Key sharing reads the device list at send time; without this wait a test
        would race the device-list update coming down this client's sync.
        """
        await self._call(
            "wait_device", user_id=user_id, device_id=device_id, cross_signed=cross_signed
        )

    async def send_text(self, room_id: str, body: str) -> str:
        """Send an encrypted ``m.text``; returns its event id."""
        result = await self._call("send", room_id=room_id, body=body)
        return str(result["event_id"])

    async def download_file(self, room_id: str, event_id: str) -> dict[str, Any]:
        """Download and decrypt the attachment of an encrypted ``m.file`` event."""
        return await self._call("download_file", room_id=room_id, event_id=event_id)

    async def wait_for_message(
        self,
        predicate: Callable[[ElementMessage], bool],
        timeout: float = COMMAND_TIMEOUT,
        what: str = "a matching message",
    ) -> ElementMessage:
        """The first reported message (latest state per event) satisfying ``predicate``."""

        def find() -> ElementMessage | None:
            return next((m for m in self._messages.values() if predicate(m)), None)

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(find), timeout)
            except TimeoutError:
                seen = "\n".join(f"  {m}" for m in self._messages.values()) or "  (none)"
                raise ElementClientError(
                    f"timed out after {timeout}s waiting for {what}; messages seen:\n{seen}"
                    f"{self._stderr_tail()}"
                ) from None
        found = find()
        assert found is not None
        return found

    async def close(self) -> None:
        """Ask the process to quit; kill it if it does not."""
        if self._process.returncode is None:
            with contextlib.suppress(ElementClientError, ConnectionError):
                await self._call("quit", timeout=5)
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _call(
        self, cmd: str, timeout: float = COMMAND_TIMEOUT, **args: Any
    ) -> dict[str, Any]:
        if self._process.returncode is not None:
            raise ElementClientError(
                f"client.mjs exited ({self._process.returncode}){self._stderr_tail()}"
            )
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        assert self._process.stdin is not None
        self._process.stdin.write(
            (json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n").encode()
        )
        await self._process.stdin.drain()
        try:
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise ElementClientError(
                f"{cmd}: no reply within {timeout}s{self._stderr_tail()}"
            ) from None
        finally:
            self._pending.pop(request_id, None)
        if not reply.get("ok"):
            raise ElementClientError(f"{reply.get('error')}{self._stderr_tail()}")
        result: dict[str, Any] = reply["result"]
        return result

    async def _read_stdout(self) -> None:
        """Route reply lines to their callers and message lines to the message table.

        However this loop ends (EOF, a line that is not protocol), every waiting
        caller is failed with the reason instead of being left to time out.
        """
        assert self._process.stdout is not None
        reason = "client.mjs closed its stdout"
        try:
            while line := await self._process.stdout.readline():
                await self._dispatch(json.loads(line))
        except (ValueError, TypeError, KeyError) as exc:
            reason = f"client.mjs wrote a line that is not protocol ({exc!r}): {line[:200]!r}"
        died = ElementClientError(f"{reason}{self._stderr_tail()}")
        for future in [*self._pending.values(), self._ready]:
            if not future.done():
                future.set_exception(died)

    async def _dispatch(self, line: dict[str, Any]) -> None:
        if line.get("event") == "ready":
            self._ready.set_result(None)
        elif line.get("event") == "message":
            fields = {k: v for k, v in line.items() if k != "event"}
            async with self._changed:
                self._messages[fields["event_id"]] = ElementMessage(**fields)
                self._changed.notify_all()
        elif (future := self._pending.get(line["id"])) and not future.done():
            future.set_result(line)

    def _stderr_tail(self) -> str:
        try:
            lines = self._stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n--- client.mjs stderr (tail) ---\n" + "\n".join(lines[-STDERR_TAIL_LINES:])
