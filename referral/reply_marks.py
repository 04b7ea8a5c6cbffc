"""Aligning a received page to the form we printed, and measuring ink where we printed boxes.

    grey page (uint8, square pixels)
      ├─ coarse: the QR code's four corners (zxing) ─► affine guess, points → pixels
      │          (no QR: the nominal page at the rendering scale, wider search)
      ├─ fine:   each fiducial = the darkest fiducial-sized square near its guess
      │          (integral image), refined to the centroid of its dark pixels
      └─ affine fitted to the four fiducials by least squares; the residual says
         whether the page is a flat, sheared-and-scaled copy of ours (a fax is)
    ink(region in points) = share of dark pixels at a grid of points mapped in

A fax machine shifts, scales (a little differently across and down the
page, and standard resolution halves the rows), and skews a page by a few
degrees; an affine map covers all of that, and four fiducials over-determine
its six numbers, so a bad fit is noticed instead of read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import zxingcpp
from PIL import Image, ImageFilter

from referral.documents import reply_layout as layout

Grey = npt.NDArray[np.uint8]
Points = npt.NDArray[np.float64]

DARK = 128  # grey levels below this are ink
FIDUCIAL_MIN_FILL = 0.7  # share of a fiducial-sized square that must be ink
MAX_RESIDUAL_PT = 2.5  # worst fiducial misfit (points) an aligned page may have
_GUESS_SLACK_PT = 30.0  # search radius around a QR-predicted fiducial, points
_BLIND_SLACK_PT = 70.0  # …around the nominal position when no QR was read


@dataclass(frozen=True, slots=True)
class QrHit:
    text: str
    corners: Points  # pixels: top-left, top-right, bottom-right, bottom-left of the symbol


_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
# Retries for a QR code a fax line damaged: other scales and zxing's other
# binarizer see speckle differently, and thickening the ink (a 3x3 minimum
# filter) closes the white rows a noisy line drops through the modules.
_QR_TRIES: tuple[tuple[float, bool, zxingcpp.Binarizer], ...] = (
    (1.0, False, zxingcpp.Binarizer.LocalAverage),
    (1.0, True, zxingcpp.Binarizer.LocalAverage),
    (1.0, False, zxingcpp.Binarizer.GlobalHistogram),
    (5 / 6, False, zxingcpp.Binarizer.GlobalHistogram),
    (5 / 3, False, zxingcpp.Binarizer.LocalAverage),
    (5 / 6, True, zxingcpp.Binarizer.LocalAverage),
)


def find_qr_codes(page: Grey, wanted: str = "") -> list[QrHit]:
    """The QR codes on the page (with their corners); retried until one starts with ``wanted``."""
    hits: list[QrHit] = []
    for factor, thicken, binarizer in _QR_TRIES:
        image = Image.fromarray(page)
        if thicken:
            image = image.filter(ImageFilter.MinFilter(3))
        if factor != 1.0:
            size = (round(page.shape[1] * factor), round(page.shape[0] * factor))
            image = image.resize(size, Image.Resampling.BILINEAR)
        hits = []
        for code in zxingcpp.read_barcodes(np.asarray(image), formats=_QR, binarizer=binarizer):
            p = code.position
            corners = np.array([[c.x, c.y] for c in (p.top_left, p.top_right, p.bottom_right,
                                                      p.bottom_left)], dtype=np.float64)
            hits.append(QrHit(code.text, corners / factor))
        if any(hit.text.startswith(wanted) for hit in hits):
            return hits
    return hits


def fit_affine(source: Points, target: Points) -> tuple[Points, float]:
    """The 2x3 affine map taking ``source`` onto ``target``, and its worst misfit (target units)."""
    ones = np.ones((len(source), 1))
    design = np.hstack([source, ones])
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    matrix = np.asarray(solution.T, dtype=np.float64)  # 2x3
    residual = float(np.max(np.linalg.norm(design @ solution - target, axis=1)))
    return matrix, residual


def apply(matrix: Points, points: Points) -> Points:
    return points @ matrix[:, :2].T + matrix[:, 2]


@dataclass(frozen=True, slots=True)
class Alignment:
    """Points on our form → pixels of the received page."""

    matrix: Points
    residual_pt: float

    @property
    def scale(self) -> float:
        """Pixels per point (mean of the two axes)."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))


def _qr_guess(hit: QrHit) -> Points:
    left, top, side = layout.QR_BOX
    printed = np.array([[left, top], [left + side, top], [left + side, top + side],
                        [left, top + side]], dtype=np.float64)
    matrix, _ = fit_affine(printed, hit.corners)
    return matrix


def _find_fiducial(dark: npt.NDArray[np.bool_], centre: Points, side: int,
                   slack: int) -> Points | None:
    """Centre (pixels) of the fiducial nearest ``centre``, or None if there is none.

    The darkest ``side``-square in the search window, by an integral image of
    the window alone, must be mostly ink; its dark pixels' centroid is the centre.
    """
    height, width = dark.shape
    x0 = max(int(centre[0]) - slack - side // 2, 0)
    y0 = max(int(centre[1]) - slack - side // 2, 0)
    x1 = min(int(centre[0]) + slack + side // 2 + side, width)
    y1 = min(int(centre[1]) + slack + side // 2 + side, height)
    if x1 - x0 <= side or y1 - y0 <= side:
        return None
    window = dark[y0:y1, x0:x1]
    integral = np.zeros((window.shape[0] + 1, window.shape[1] + 1), dtype=np.int32)
    integral[1:, 1:] = window.cumsum(0, dtype=np.int32).cumsum(1, dtype=np.int32)
    sums = (integral[side:, side:] - integral[:-side, side:] - integral[side:, :-side]
            + integral[:-side, :-side])
    by, bx = np.unravel_index(int(np.argmax(sums)), sums.shape)
    if sums[by, bx] < FIDUCIAL_MIN_FILL * side * side:
        return None
    pad = side // 4
    top, left = max(by - pad, 0), max(bx - pad, 0)
    wy, wx = np.nonzero(window[top:by + side + pad, left:bx + side + pad])
    return np.array([wx.mean() + left + x0, wy.mean() + top + y0])


def align(page: Grey, dpi: float, qr: QrHit | None) -> Alignment | None:
    """Fit our form onto ``page``; None when the four fiducials are not all there."""
    if qr is not None:
        guess, slack_pt = _qr_guess(qr), _GUESS_SLACK_PT
    else:
        s = dpi / 72
        guess, slack_pt = np.array([[s, 0.0, 0.0], [0.0, s, 0.0]]), _BLIND_SLACK_PT
    scale = float(np.sqrt(abs(np.linalg.det(guess[:, :2]))))
    dark = page < DARK
    printed = np.array(layout.FIDUCIALS, dtype=np.float64)
    side = max(int(layout.FIDUCIAL_SIZE * scale * 0.9), 4)
    found = []
    for centre in apply(guess, printed):
        hit = _find_fiducial(dark, centre, side, int(slack_pt * scale))
        if hit is None:
            return None
        found.append(hit)
    matrix, residual = fit_affine(printed, np.array(found))
    return Alignment(matrix, residual / scale)


class InkMeter:
    """Share of ink at points of our form, on one aligned page."""

    def __init__(self, page: Grey, alignment: Alignment) -> None:
        self._dark = page < DARK
        self._alignment = alignment

    def _share(self, points: Points) -> float:
        pixels = np.rint(apply(self._alignment.matrix, points)).astype(int)
        height, width = self._dark.shape
        inside = ((pixels[:, 0] >= 0) & (pixels[:, 0] < width)
                  & (pixels[:, 1] >= 0) & (pixels[:, 1] < height))
        if not inside.all():
            return 1.0  # off the page: counted as ink, so it can only read as unclear
        return float(self._dark[pixels[:, 1], pixels[:, 0]].mean())

    def square(self, centre: tuple[float, float], side: float, steps: int = 14) -> float:
        """Ink share inside a square of ``side`` points around ``centre``."""
        offsets = np.linspace(-side / 2, side / 2, steps)
        gx, gy = np.meshgrid(offsets + centre[0], offsets + centre[1])
        return self._share(np.column_stack([gx.ravel(), gy.ravel()]))

    def disc(self, centre: tuple[float, float], radius: float, steps: int = 13) -> float:
        """Ink share inside a disc of ``radius`` points around ``centre``."""
        offsets = np.linspace(-radius, radius, steps)
        gx, gy = np.meshgrid(offsets, offsets)
        keep = gx**2 + gy**2 <= radius**2
        points = np.column_stack([gx[keep] + centre[0], gy[keep] + centre[1]])
        return self._share(points)

    def outline(self, rect: layout.Rect) -> float:
        """Ink share along a rectangle's printed border (strokes are centred on its edges)."""
        left, top = rect.left, rect.top
        right, bottom = rect.left + rect.width, rect.top + rect.height
        t = np.linspace(0.15, 0.85, 8)
        sides: Sequence[Points] = (
            np.column_stack([left + (right - left) * t, np.full_like(t, top)]),
            np.column_stack([left + (right - left) * t, np.full_like(t, bottom)]),
            np.column_stack([np.full_like(t, left), top + (bottom - top) * t]),
            np.column_stack([np.full_like(t, right), top + (bottom - top) * t]),
        )
        return self._share(np.vstack(sides))

    def crop_box(self, rect: layout.Rect) -> tuple[int, int, int, int]:
        """The pixel bounding box (left, top, right, bottom) of a region of our form."""
        corners = np.array([[rect.left, rect.top], [rect.left + rect.width, rect.top],
                            [rect.left, rect.top + rect.height],
                            [rect.left + rect.width, rect.top + rect.height]])
        pixels = apply(self._alignment.matrix, corners)
        height, width = self._dark.shape
        x0, y0 = np.clip(pixels.min(axis=0), 0, [width, height]).astype(int)
        x1, y1 = np.clip(pixels.max(axis=0), 0, [width, height]).astype(int)
        return int(x0), int(y0), int(x1), int(y1)
