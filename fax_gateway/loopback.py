"""A real T.30 fax call between two in-process spandsp terminals.

    caller (sends the TIFF-F file)          answerer (writes the received TIFF)
        fax_tx -> 160 samples (20 ms) ----> fax_rx
        fax_rx <---- 160 samples (20 ms) -- fax_tx

Each step moves 20 ms of audio both ways, as a telephone line would, so the
modems train, T.30 negotiates (DIS/DCS, TCF, MCF ...) and every page is
modulated and demodulated. It is the embedded default transport and the
proof that our documents are accepted by a real fax stack: spandsp only
transmits files whose TIFF-F it accepts. Simulated audio runs much faster
than real time but still costs CPU per page; the call is bounded by
``max_seconds`` of simulated line time, so a stuck negotiation ends.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

from fax_gateway.spandsp import SAMPLE_RATE, T30_ERR_OK, FaxTerminal, completion_text

BLOCK = 160  # samples per step: 20 ms at 8 kHz

#: T.30 completion code reported when the call hit the simulated time limit.
TIMED_OUT = -1


@dataclass(frozen=True, slots=True)
class LoopbackResult:
    """Outcome of one loopback call, as the receiving side saw it."""

    success: bool
    pages_transferred: int
    completion_code: int
    completion_text: str
    remote_ident: str
    received_path: Path
    line_seconds: float


def send_over_loopback(
    tiff_path: Path,
    received_path: Path,
    *,
    caller_ident: str,
    called_number: str,
    ecm: bool = True,
    max_seconds: float = 3600.0,
) -> LoopbackResult:
    """Fax ``tiff_path`` from a caller to an answerer; the answerer saves it.

    ``caller_ident`` is the caller's TSI, ``called_number`` the answerer's
    CSI. ``remote_ident`` in the result is the TSI the answerer received.
    Blocking and CPU bound: run it in a worker thread.
    """
    if not tiff_path.is_file():
        raise FileNotFoundError(tiff_path)
    received_path.parent.mkdir(parents=True, exist_ok=True)
    max_blocks = int(max_seconds * SAMPLE_RATE / BLOCK)
    with (
        FaxTerminal(calling_party=True, ident=caller_ident, ecm=ecm) as caller,
        FaxTerminal(calling_party=False, ident=called_number, ecm=ecm) as answerer,
    ):
        caller.send_file(str(tiff_path))
        answerer.receive_file(str(received_path))
        caller_audio = (ctypes.c_int16 * BLOCK)()
        answerer_audio = (ctypes.c_int16 * BLOCK)()
        blocks = 0
        while blocks < max_blocks and (
            caller.completion_code is None or answerer.completion_code is None
        ):
            _produce(caller, caller_audio)
            _produce(answerer, answerer_audio)
            answerer.receive(caller_audio, BLOCK)
            caller.receive(answerer_audio, BLOCK)
            blocks += 1
        stats = answerer.statistics()
        remote_ident = answerer.remote_ident
        caller_code = caller.completion_code
        answerer_code = answerer.completion_code
    # The receiving side's verdict counts; a caller-side failure (e.g. a
    # file spandsp refused to send) is reported when the receiver was fine.
    if answerer_code is None or caller_code is None:
        code = TIMED_OUT
        text = f"no T.30 completion within {max_seconds:.0f} s of line time"
    else:
        code = answerer_code if answerer_code != T30_ERR_OK else caller_code
        text = completion_text(code)
    pages = stats.pages_rx
    return LoopbackResult(
        success=code == T30_ERR_OK and pages > 0,
        pages_transferred=pages,
        completion_code=code,
        completion_text=text,
        remote_ident=remote_ident,
        received_path=received_path,
        line_seconds=blocks * BLOCK / SAMPLE_RATE,
    )


def _produce(terminal: FaxTerminal, buffer: ctypes.Array[ctypes.c_int16]) -> None:
    """Fill ``buffer`` with the terminal's next 20 ms, padding with silence."""
    produced = terminal.transmit(buffer)
    if produced < BLOCK:
        ctypes.memset(ctypes.byref(buffer, produced * 2), 0, (BLOCK - produced) * 2)
