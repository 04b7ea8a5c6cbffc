"""Write multi-page CCITT TIFF files through the system libtiff (ctypes).

Why not Pillow's TIFF writer: Pillow only writes 1-bit pages as
BlackIsZero, and asking it for WhiteIsZero (which TIFF Class F requires and
which the CCITT coders assume: a 0 bit is a white run) makes it invert the page
pixel by pixel in Python, about a second per fax page. libtiff itself has no
such limit, is the library every fax stack (spandsp included) reads TIFF-F
with, and is installed with spandsp anyway, so we drive it directly:

    TIFFOpen(path, "w")
      per page: TIFFSetField(...) x N -> TIFFWriteEncodedStrip(0, bits) -> TIFFWriteDirectory
    TIFFClose

The caller hands over packed rows, most significant bit first, 1 = black.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from fax_gateway.profile_f import Coding

# libtiff tag numbers and values (tiff.h).
_TAG_SUBFILETYPE = 254
_TAG_IMAGEWIDTH = 256
_TAG_IMAGELENGTH = 257
_TAG_BITSPERSAMPLE = 258
_TAG_COMPRESSION = 259
_TAG_PHOTOMETRIC = 262
_TAG_FILLORDER = 266
_TAG_ORIENTATION = 274
_TAG_SAMPLESPERPIXEL = 277
_TAG_ROWSPERSTRIP = 278
_TAG_XRESOLUTION = 282
_TAG_YRESOLUTION = 283
_TAG_PLANARCONFIG = 284
_TAG_T4OPTIONS = 292
_TAG_T6OPTIONS = 293
_TAG_RESOLUTIONUNIT = 296
_TAG_PAGENUMBER = 297
_TAG_SOFTWARE = 305

_FILETYPE_PAGE = 2
_PHOTOMETRIC_MINISWHITE = 0
_FILLORDER_MSB2LSB = 1
_ORIENTATION_TOPLEFT = 1
_PLANARCONFIG_CONTIG = 1
_RESUNIT_INCH = 2
_COMPRESSION_CCITTFAX3 = 3
_COMPRESSION_CCITTFAX4 = 4
_GROUP3OPT_2DENCODING = 0x1

_SOFTWARE = b"Curbside fax gateway"


class LibTiffError(RuntimeError):
    """libtiff refused an operation (the file is then incomplete)."""


def _load() -> ctypes.CDLL:
    # The soname first: find_library runs ldconfig in a subprocess.
    try:
        lib = ctypes.CDLL("libtiff.so.6")
    except OSError:
        name = ctypes.util.find_library("tiff")
        if name is None:
            raise LibTiffError("libtiff not found; install the Debian package libtiff6") from None
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise LibTiffError(f"libtiff {name} cannot be loaded: {exc}") from exc
    lib.TIFFOpen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.TIFFOpen.restype = ctypes.c_void_p
    lib.TIFFClose.argtypes = [ctypes.c_void_p]
    lib.TIFFClose.restype = None
    lib.TIFFWriteEncodedStrip.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_void_p,
        ctypes.c_ssize_t,
    ]
    lib.TIFFWriteEncodedStrip.restype = ctypes.c_ssize_t
    lib.TIFFWriteDirectory.argtypes = [ctypes.c_void_p]
    lib.TIFFWriteDirectory.restype = ctypes.c_int
    # TIFFSetField is variadic: its argtypes stay unset and every call passes
    # explicitly typed values (c_int for the int-promoted uint16/uint32
    # arguments, c_double for float ones), as the C default promotions do.
    lib.TIFFSetField.restype = ctypes.c_int
    return lib


_lib: ctypes.CDLL | None = None


def _libtiff() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        _lib = _load()
    return _lib


@dataclass(frozen=True, slots=True)
class PageGeometry:
    """Size and resolution of one page as it will be written."""

    width: int
    rows: int
    x_dpi: float
    y_dpi: float


class CcittTiffWriter:
    """Append 1-bit pages, each as one CCITT-coded strip, to a new TIFF file."""

    def __init__(self, path: Path, coding: Coding) -> None:
        self._lib = _libtiff()
        self._coding = coding
        handle = self._lib.TIFFOpen(str(path).encode(), b"w")
        if not handle:
            raise LibTiffError(f"cannot create TIFF file {path}")
        self._tif: int | None = handle

    def __enter__(self) -> CcittTiffWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _set(self, tag: int, *values: ctypes.c_int | ctypes.c_double | bytes) -> None:
        if not self._lib.TIFFSetField(ctypes.c_void_p(self._tif), ctypes.c_uint32(tag), *values):
            raise LibTiffError(f"libtiff rejected tag {tag}")

    def write_page(
        self,
        bits: bytes | bytearray | memoryview,
        geometry: PageGeometry,
        *,
        page_index: int,
        page_count: int,
    ) -> None:
        """Encode one page. ``bits``: packed rows, MSB first, 1 = black.

        Any C-contiguous buffer will do (a numpy array too); a writable one
        is handed to libtiff without a copy, and libtiff may scribble on it.
        """
        if self._tif is None:
            raise LibTiffError("writer already closed")
        data = memoryview(bits).cast("B")
        stride = (geometry.width + 7) // 8
        if data.nbytes != stride * geometry.rows:
            raise ValueError("bit buffer does not match the page geometry")
        i = ctypes.c_int
        self._set(_TAG_SUBFILETYPE, i(_FILETYPE_PAGE))
        self._set(_TAG_IMAGEWIDTH, i(geometry.width))
        self._set(_TAG_IMAGELENGTH, i(geometry.rows))
        self._set(_TAG_BITSPERSAMPLE, i(1))
        self._set(_TAG_SAMPLESPERPIXEL, i(1))
        self._set(_TAG_PHOTOMETRIC, i(_PHOTOMETRIC_MINISWHITE))
        self._set(_TAG_FILLORDER, i(_FILLORDER_MSB2LSB))
        self._set(_TAG_ORIENTATION, i(_ORIENTATION_TOPLEFT))
        self._set(_TAG_PLANARCONFIG, i(_PLANARCONFIG_CONTIG))
        if self._coding is Coding.T6:
            self._set(_TAG_COMPRESSION, i(_COMPRESSION_CCITTFAX4))
            self._set(_TAG_T6OPTIONS, i(0))
        else:
            self._set(_TAG_COMPRESSION, i(_COMPRESSION_CCITTFAX3))
            options = _GROUP3OPT_2DENCODING if self._coding is Coding.T4_MR else 0
            self._set(_TAG_T4OPTIONS, i(options))
        self._set(_TAG_XRESOLUTION, ctypes.c_double(geometry.x_dpi))
        self._set(_TAG_YRESOLUTION, ctypes.c_double(geometry.y_dpi))
        self._set(_TAG_RESOLUTIONUNIT, i(_RESUNIT_INCH))
        self._set(_TAG_ROWSPERSTRIP, i(geometry.rows))
        self._set(_TAG_PAGENUMBER, i(page_index), i(page_count))
        self._set(_TAG_SOFTWARE, _SOFTWARE)
        if data.readonly:
            buf = ctypes.create_string_buffer(data.tobytes(), data.nbytes)
        else:
            buf = (ctypes.c_char * data.nbytes).from_buffer(data)
        written = self._lib.TIFFWriteEncodedStrip(ctypes.c_void_p(self._tif), 0, buf, data.nbytes)
        if written < 0:
            raise LibTiffError(f"libtiff failed to encode page {page_index + 1}")
        if not self._lib.TIFFWriteDirectory(ctypes.c_void_p(self._tif)):
            raise LibTiffError(f"libtiff failed to write the directory of page {page_index + 1}")

    def close(self) -> None:
        """Flush and close the file; safe to call twice."""
        if self._tif is not None:
            self._lib.TIFFClose(ctypes.c_void_p(self._tif))
            self._tif = None
