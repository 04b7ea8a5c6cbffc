"""ctypes binding of the part of spandsp's fax API the gateway uses.

spandsp (Debian ``libspandsp2``, 0.0.6) is the fax engine inside Asterisk and
FreeSWITCH: a ``fax_state_t`` is a complete fax terminal (T.30 protocol,
V.21/V.27ter/V.29/V.17 modems, T.4/T.6 codecs, TIFF-F reading and writing)
that turns 8 kHz 16-bit linear audio in and out with ``fax_rx``/``fax_tx``.
Only the calls below are bound; prototypes follow ``spandsp/fax.h``,
``spandsp/t30.h``, ``spandsp/t30_api.h`` and ``spandsp/t30_logging.h``.

:class:`FaxTerminal` owns one ``fax_state_t`` and frees it on ``close``.
"""

from __future__ import annotations

import ctypes
import enum
from types import TracebackType

SAMPLE_RATE = 8000

#: spandsp's t30_stats_t (t30.h): fifteen ints, in this order.
_STATS_FIELDS = (
    "bit_rate",
    "error_correcting_mode",
    "pages_tx",
    "pages_rx",
    "pages_in_file",
    "x_resolution",
    "y_resolution",
    "width",
    "length",
    "image_size",
    "encoding",
    "bad_rows",
    "longest_bad_row_run",
    "error_correcting_mode_retries",
    "current_status",
)


class T30Stats(ctypes.Structure):
    """Mirror of ``t30_stats_t``; filled by ``t30_get_transfer_statistics``."""

    _fields_ = [(name, ctypes.c_int) for name in _STATS_FIELDS]


#: void (*)(t30_state_t *s, void *user_data, int completion_code)
PhaseEHandler = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)

T30_ERR_OK = 0


class Modems(enum.IntFlag):
    """T30_SUPPORT_* modem bits (t30.h)."""

    V27TER = 0x01
    V29 = 0x02
    V17 = 0x04


class Compressions(enum.IntFlag):
    """T30_SUPPORT_* compression bits (t30.h)."""

    T4_1D = 0x02
    T4_2D = 0x04
    T6 = 0x08


class Resolutions(enum.IntFlag):
    """T30_SUPPORT_* resolution bits (t30.h)."""

    STANDARD = 0x01
    FINE = 0x02
    SUPERFINE = 0x04
    R8 = 0x20000


class SpandspUnavailable(RuntimeError):
    """libspandsp cannot be loaded."""


def _declare(lib: ctypes.CDLL) -> None:
    vp, c_int, c_char_p = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    prototypes: dict[str, tuple[list[type], type | None]] = {
        "fax_init": ([vp, c_int], vp),
        "fax_free": ([vp], c_int),
        "fax_get_t30_state": ([vp], vp),
        "fax_rx": ([vp, ctypes.POINTER(ctypes.c_int16), c_int], c_int),
        "fax_tx": ([vp, ctypes.POINTER(ctypes.c_int16), c_int], c_int),
        "fax_set_transmit_on_idle": ([vp, c_int], None),
        "t30_set_tx_ident": ([vp, c_char_p], c_int),
        "t30_get_rx_ident": ([vp], c_char_p),
        "t30_set_tx_file": ([vp, c_char_p, c_int, c_int], None),
        "t30_set_rx_file": ([vp, c_char_p, c_int], None),
        "t30_set_phase_e_handler": ([vp, PhaseEHandler, vp], None),
        "t30_set_ecm_capability": ([vp, c_int], c_int),
        "t30_set_supported_modems": ([vp, c_int], c_int),
        "t30_set_supported_compressions": ([vp, c_int], c_int),
        "t30_set_supported_resolutions": ([vp, c_int], c_int),
        "t30_get_transfer_statistics": ([vp, ctypes.POINTER(T30Stats)], None),
        "t30_completion_code_to_str": ([c_int], c_char_p),
    }
    for name, (argtypes, restype) in prototypes.items():
        function = getattr(lib, name)
        function.argtypes = argtypes
        function.restype = restype


_lib: ctypes.CDLL | None = None


#: The soname whose ABI the prototypes and :class:`T30Stats` above mirror (spandsp
#: 0.0.6, Debian ``libspandsp2``). Loaded by exact name: ``find_library`` may pick
#: another major version (a new soname is a new ABI, whose structs need not match
#: these), and the calls would then read and write memory of the wrong shape
#: instead of failing.
SONAME = "libspandsp.so.2"
PACKAGE = "libspandsp2"


def load_spandsp() -> ctypes.CDLL:
    """Load and declare libspandsp once; a clear error naming the package when missing."""
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL(SONAME)
        except OSError as exc:
            raise SpandspUnavailable(
                f"the spandsp fax engine ({SONAME}) is not installed: run "
                f"`apt-get install {PACKAGE}` (Debian/Ubuntu package {PACKAGE}). {exc}"
            ) from None
        _declare(lib)
        _lib = lib
    return _lib


def completion_text(code: int) -> str:
    """spandsp's own words for a T.30 completion code."""
    text = load_spandsp().t30_completion_code_to_str(code)
    return text.decode("ascii", "replace") if text else f"unknown code {code}"


class FaxTerminal:
    """One audio fax terminal (caller or answerer) with its T.30 engine."""

    def __init__(
        self,
        *,
        calling_party: bool,
        ident: str,
        ecm: bool,
        compressions: Compressions = Compressions.T4_1D | Compressions.T4_2D | Compressions.T6,
        modems: Modems = Modems.V27TER | Modems.V29 | Modems.V17,
    ) -> None:
        self._lib = load_spandsp()
        state = self._lib.fax_init(None, int(calling_party))
        if not state:
            raise RuntimeError("spandsp fax_init failed")
        self._fax: int | None = state
        self._t30: int = self._lib.fax_get_t30_state(state)
        self.completion_code: int | None = None
        # The C side keeps only the raw pointer: the Python callback object
        # must live as long as the terminal.
        self._phase_e = PhaseEHandler(self._on_phase_e)
        self._lib.t30_set_phase_e_handler(self._t30, self._phase_e, None)
        self._lib.fax_set_transmit_on_idle(state, 1)
        self._lib.t30_set_tx_ident(self._t30, ident.encode("ascii", "replace"))
        self._lib.t30_set_ecm_capability(self._t30, int(ecm))
        self._lib.t30_set_supported_modems(self._t30, int(modems))
        self._lib.t30_set_supported_compressions(self._t30, int(compressions))
        self._lib.t30_set_supported_resolutions(
            self._t30,
            int(Resolutions.STANDARD | Resolutions.FINE | Resolutions.SUPERFINE | Resolutions.R8),
        )

    def _on_phase_e(self, _t30: int | None, _user: int | None, code: int) -> None:
        self.completion_code = code

    def __enter__(self) -> FaxTerminal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _state(self) -> int:
        if self._fax is None:
            raise RuntimeError("fax terminal already closed")
        return self._fax

    def send_file(self, path: str) -> None:
        """Transmit every page of the TIFF-F file ``path``."""
        self._state()
        self._lib.t30_set_tx_file(self._t30, path.encode(), -1, -1)

    def receive_file(self, path: str) -> None:
        """Write received pages to the TIFF file ``path``."""
        self._state()
        self._lib.t30_set_rx_file(self._t30, path.encode(), -1)

    def transmit(self, buffer: ctypes.Array[ctypes.c_int16]) -> int:
        """Fill ``buffer`` with outgoing audio; returns the samples produced."""
        return int(self._lib.fax_tx(self._state(), buffer, len(buffer)))

    def receive(self, buffer: ctypes.Array[ctypes.c_int16], samples: int) -> None:
        """Feed ``samples`` of incoming audio to the terminal."""
        self._lib.fax_rx(self._state(), buffer, samples)

    @property
    def remote_ident(self) -> str:
        ident = self._lib.t30_get_rx_ident(self._t30)
        return ident.decode("ascii", "replace").strip() if ident else ""

    def statistics(self) -> T30Stats:
        stats = T30Stats()
        self._lib.t30_get_transfer_statistics(self._t30, ctypes.byref(stats))
        return stats

    def close(self) -> None:
        """Release the engine (closes any open TIFF file); safe to call twice."""
        if self._fax is not None:
            # fax_free runs t30_release itself (closing TIFF files) and frees.
            self._lib.fax_free(self._fax)
            self._fax = None
