"""The sandbox's process: a pre-forking server, one short-lived child per document.

    Sandbox (parent) ──spawn──> this server (pikepdf + PIL loaded, nothing else)
        server: keeps SPARE children forked ahead and warmed, each waiting to
                accept (a connection wakes one of them, not all)
        child:  RLIMIT_AS + RLIMIT_CPU set at fork, accept one connection,
                alarm(wall seconds), read request, probe/convert, reply, _exit
        parent: connects, sends, reads the reply; no reply = the child was
                killed by a limit = the document is refused

A child handles exactly one document, so a hostile file cannot leave state
behind for the next. Forking ahead keeps the fork (about 2 ms) off the
document's path. The server exits when its stdin closes (the parent died or
closed the sandbox), and reaps its children so their resource use is
accounted to it (the benchmark reads peak RSS that way).

It is started as a script with ``python -P`` and loads :mod:`fax_gateway.probe`
and :mod:`fax_gateway.inbound_pdf` by path, not through the package, whose
``__init__`` pulls in the whole gateway (120 MB of RSS no child needs).

Wire format, both ways: the header's and the payload's lengths (4 bytes
each, big-endian), a JSON header, then the payload.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import resource
import select
import selectors
import signal
import socket
import struct
import sys
import tempfile
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

SPARE = 2
_PREFIX = struct.Struct(">II")  # header length, payload length
#: Pages of the PDF each child warms up with: the size of a long referral or fax.
WARM_PAGES = 50


def _load(name: str) -> ModuleType:
    module_name = f"fax_gateway.{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(
        module_name, Path(__file__).with_name(f"{name}.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def read_message(conn: socket.socket, limit: int) -> tuple[dict[str, Any], bytes]:
    """One framed message from ``conn``; ValueError if malformed, cut short or over ``limit``.

    Both lengths come first, so the message is read into one buffer of its
    size and the reader stops at its last byte: it never waits for the
    sender's end of stream (one wake-up less each way).
    """
    header_size, payload_size = _PREFIX.unpack(_read_exactly(conn, _PREFIX.size))
    if header_size + payload_size > limit:
        raise ValueError("message over the size limit")
    return json.loads(_read_exactly(conn, header_size)), _read_exactly(conn, payload_size)


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        chunk = conn.recv(missing)
        if not chunk:
            raise ValueError("message cut short")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)  # the one chunk itself, not a copy, when it came at once


def frame(header: dict[str, Any], payload: bytes = b"") -> bytes:
    encoded = json.dumps(header).encode()
    return _PREFIX.pack(len(encoded), len(payload)) + encoded + payload


def _handle(header: dict[str, Any], data: bytes) -> tuple[dict[str, Any], bytes]:
    probe = _load("probe")
    limits = probe.ProbeLimits(**header["limits"])
    try:
        facts = probe.probe(data, limits)
        allowed = header.get("kinds")
        if allowed and facts.kind not in allowed:
            raise probe.DocumentRefused(
                f"a {facts.kind.upper()} file is not accepted here; send "
                + " or ".join(k.upper() for k in allowed), 415,
            )
        payload = _convert(header.get("convert"), facts, data)
    except probe.DocumentRefused as refused:
        return {"refused": refused.reason, "status": refused.status}, b""
    return {"facts": facts.as_dict()}, payload


def _convert(convert: str | None, facts: Any, data: bytes) -> bytes:
    """``pdf``: the document as a PDF (a fax TIFF losslessly, an image as one page)."""
    if convert != "pdf" or facts.kind == "pdf":
        return b""
    probe = _load("probe")
    if facts.kind == "tiff":
        inbound_pdf = _load("inbound_pdf")
        with tempfile.TemporaryDirectory() as scratch:
            tiff, pdf = Path(scratch, "in.tif"), Path(scratch, "out.pdf")
            tiff.write_bytes(data)
            try:
                inbound_pdf.tiff_to_pdf(tiff, pdf)
            except (inbound_pdf.InboundFaxError, OSError, ValueError, ZeroDivisionError) as exc:
                raise probe.DocumentRefused(f"the TIFF is not a fax we can read: {exc}") from None
            return pdf.read_bytes()
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        image.convert("RGB").save(out, "PDF", resolution=200.0)
        return out.getvalue()


def _child(listener: socket.socket, args: argparse.Namespace, samples: list[bytes]) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    memory = args.memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (args.cpu_seconds, args.cpu_seconds + 1))
    # While idle, touch what a document will (see _samples): 20 ms -> 3 ms for
    # a 30-page PDF on a loaded machine.
    _warm_up(samples)
    conn = _accept_or_orphaned(listener)
    listener.close()
    if conn is None:
        return
    signal.alarm(args.wall_seconds)
    with conn:
        try:
            header, data = read_message(conn, args.max_message)
            reply = frame(*_handle(header, data))
        except MemoryError:
            reply = frame({"refused": "the document needs more memory than the sandbox allows",
                           "status": 422})
        except Exception as exc:  # a bug or a parser failure: refuse, never answer with its data
            # The type and the line only: a parser's message may quote the document (PHI).
            where = traceback.extract_tb(exc.__traceback__)[-1]
            sys.stderr.write(f"sandbox child: {type(exc).__name__} at "
                             f"{Path(where.filename).name}:{where.lineno}\n")
            reply = frame({"refused": "the document cannot be read", "status": 422})
        conn.sendall(reply)


def _accept_or_orphaned(listener: socket.socket) -> socket.socket | None:
    """The next connection, or None once stdin closes (the parent is gone: exit, do not linger).

    ``EPOLLEXCLUSIVE``: a connection wakes one spare child, not all of them
    (the others would wake only to find the backlog empty, and compete for
    the CPU with the one reading the document).
    """
    listener.setblocking(False)
    with select.epoll() as poller:
        poller.register(listener.fileno(), select.EPOLLIN | select.EPOLLEXCLUSIVE)
        poller.register(sys.stdin.fileno(), select.EPOLLIN)
        while True:
            for fd, _ in poller.poll():
                if fd != listener.fileno():
                    return None
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:  # another spare child took it
                    continue
                conn.setblocking(True)
                return conn


def serve(args: argparse.Namespace) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(args.socket)
    listener.listen(64)
    samples = _samples()
    _warm_up(samples)
    gc.freeze()  # what the server holds stays shared with the children, not copied on write
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    selector = selectors.DefaultSelector()
    selector.register(wake_r, selectors.EVENT_READ, "child exited")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "parent")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    children = 0
    while True:
        # A child is replaced when it exits, not when it is taken: the fork does
        # not compete with a document being read, and at most SPARE documents
        # are read at once however many arrive (the rest wait in the backlog).
        while children < SPARE:
            if os.fork() == 0:
                selector.close()
                try:
                    _child(listener, args, samples)
                finally:
                    os._exit(0)
            children += 1
        for key, _ in selector.select(timeout=1.0):
            if key.data == "parent" and not os.read(sys.stdin.fileno(), 1024):
                listener.close()
                _reap(args.accounting, block=True)
                return
            if key.data == "child exited":
                os.read(wake_r, 512)
        children -= _reap(args.accounting, block=False)


def _warm_up(samples: list[bytes]) -> None:
    """Probe ``samples`` here, so the first document probed after this one starts warm."""
    probe = _load("probe")
    for sample in samples:
        probe.probe(sample, probe.ProbeLimits())


def _samples() -> list[bytes]:
    """Documents to warm up with: a PDF of ``WARM_PAGES`` pages, and a PNG.

    In the server, a first probe does what pikepdf and PIL set up on first use
    (lazy imports, plugin registries) once, not in every child (it made a
    30-page PDF take 15 ms in a child instead of 3). In each child, a second
    probe, while it waits for a document, copies the pages it shares with the
    server (copy-on-write) and grows its heap to what a document of that size
    needs: page faults then, not while a caller waits (the child read a
    30-page PDF 1.5x slower than the caller's own process did without it).
    """
    import io

    import pikepdf
    from PIL import Image

    _load("inbound_pdf")
    pdf = io.BytesIO()
    with pikepdf.new() as document:
        for _ in range(WARM_PAGES):
            document.add_blank_page()
        document.save(pdf)
    png = io.BytesIO()
    Image.new("L", (8, 8)).save(png, "PNG")
    return [pdf.getvalue(), png.getvalue()]


def _reap(accounting: str | None, *, block: bool) -> int:
    """Wait for exited children (all of them when ``block``); how many were reaped.

    With ``accounting``, one JSON line per child: how it ended (a signal means a
    limit killed it) and its peak RSS, for an operator or a benchmark to read.
    """
    reaped = 0
    while True:
        try:
            pid, status, usage = os.wait4(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped += 1
        if accounting:
            signal_number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
            with open(accounting, "a") as log:
                log.write(json.dumps({"pid": pid, "signal": signal_number,
                                      "peak_rss_kb": usage.ru_maxrss}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--memory-bytes", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=int, required=True)
    parser.add_argument("--wall-seconds", type=int, required=True)
    parser.add_argument("--max-message", type=int, required=True)
    parser.add_argument("--accounting", help="append a JSON line per reaped child here")
    serve(parser.parse_args())


if __name__ == "__main__":
    main()
