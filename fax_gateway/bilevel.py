"""Grey fax page -> packed bilevel rows: text thresholded, photos halftoned.

    grey page (uint8, 255 = white, fax geometry)
      -> photo tiles: 32x32-pixel tiles where a good share of pixels are
         mid-grey *and* smooth, grown by one tile so a photo's edges go too
      -> black = grey < 150 outside photo tiles,
         black = grey < clustered-dot screen inside them
      -> numpy.packbits: rows MSB first, 1 = black (what libtiff is handed)

Why a clustered-dot screen and not error diffusion: CCITT coders code runs,
and T.4-2D/T.6 code each line against the one above. A 45-degree dot screen
gives short, regular runs that repeat from line to line; Floyd-Steinberg
gives noise, which coded to twice Ghostscript's size for the same photo. The
dots are round on paper at both line densities (the cell has half the rows
at standard resolution).

Why the cheap test first: the renderer draws text and line art without
anti-aliasing and thresholds its header, so a page of text has no mid-grey
pixels and the photo search ends after two counts. Anti-aliased text (a
scanned letter, say) has mid-grey only on edges beside black and white, so
its local contrast is high and it stays thresholded.

Pixel counts per tile are popcounts of packed rows (``numpy.bitwise_count``
on 16- or 32-bit words), about ten times faster than summing booleans.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

Grey = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]
Counts = npt.NDArray[np.int32]

TEXT_THRESHOLD = 150  # grey levels below this become black outside photos
TILE = 32  # photo-detection tile, in pixels (a multiple of the screen cell)
_MID_LOW, _MID_HIGH = 40, 215  # "mid-grey" band
_SMOOTH_RANGE = 48  # max grey-level difference across a "smooth" half-size pixel
_PHOTO_SHARE = 0.3  # share of smooth mid-grey pixels that makes a tile photo-like
_SCREEN_CELL = 8  # halftone cell width in pixels: two dots, ~36 lines/inch at 204 dpi


class Binarizer:
    """Turns grey pages into packed bilevel rows, reusing its scratch memory.

    Why a class: a fax page is a few megabytes, and numpy's temporaries of
    that size come fresh from the kernel each time, so every page paid for
    zeroing page-sized mappings again (a quarter of the CPU time of a text
    page). The scratch arrays here grow to the largest page once and are
    reused. One instance per thread.
    """

    def __init__(self, y_per_x: float) -> None:
        """``y_per_x``: the page's y dpi over its x dpi (shapes the screen cell)."""
        self._y_per_x = y_per_x
        self._black: Mask = np.empty(0, dtype=np.bool_)
        self._scratch: Mask = np.empty(0, dtype=np.bool_)

    def to_bits(self, grey: Grey) -> npt.NDArray[np.uint8]:
        """Packed rows (MSB first, 1 = black) of ``grey``.

        ``grey`` must be a whole number of tiles wide (1728 = 54 tiles is).
        """
        if self._black.size < grey.size:
            self._black = np.empty(grey.size, dtype=np.bool_)
            self._scratch = np.empty(grey.size, dtype=np.bool_)
        black = self._black[: grey.size].reshape(grey.shape)
        scratch = self._scratch[: grey.size].reshape(grey.shape)
        np.less(grey, TEXT_THRESHOLD, out=black)
        tiles = photo_tiles(grey, scratch)
        if tiles is not None:
            _halftone_tiles(grey, black, tiles, halftone_screen(self._y_per_x))
        return np.packbits(black, axis=1)


@functools.cache
def halftone_screen(y_per_x: float) -> Grey:
    """Threshold matrix of a 45-degree clustered-dot screen (black if grey < it).

    The cell holds two dots. Pixels are ranked by a round-dot spot function,
    dot centres first, so as the grey darkens each dot grows outward; the
    ranks are spread evenly over 0..255, which keeps the tone linear.
    """
    width = _SCREEN_CELL
    rows = max(2, round(width * y_per_x / 2) * 2)
    y, x = np.mgrid[0:rows, 0:width].astype(np.float64) + 0.5
    spot = np.cos(2 * np.pi * x / width) * np.cos(2 * np.pi * y / rows)
    # A tiny ramp breaks ties between the two dots, so they grow in turn.
    spot -= 1e-9 * np.arange(spot.size).reshape(spot.shape)
    rank = np.empty(spot.size, dtype=np.int64)
    rank[np.argsort(-spot, axis=None, kind="stable")] = np.arange(spot.size)
    levels = (spot.size - rank - 0.5) * 256 / spot.size
    return levels.reshape(spot.shape).astype(np.uint8)


def photo_tiles(grey: Grey, scratch: Mask) -> Mask | None:
    """Tile map (True = halftone) of ``grey``, or None when no tile is photo-like.

    ``scratch`` (grey's shape) is overwritten. A tile row at the bottom that
    the page only partly fills counts as if padded with white.
    """
    tile_area = TILE * TILE
    # Two counts of one comparison each: the cheapest question numpy can ask.
    mid_count = np.count_nonzero(np.less_equal(grey, _MID_HIGH, out=scratch))
    mid_count -= np.count_nonzero(np.less(grey, _MID_LOW, out=scratch))
    if mid_count < _PHOTO_SHARE * tile_area:
        return None
    mid = (grey >= _MID_LOW) & (grey <= _MID_HIGH)
    candidates = _tile_counts(mid, TILE) >= _PHOTO_SHARE * tile_area
    if not candidates.any():
        return None
    rows, cols = np.nonzero(candidates)
    first_row, last_row = int(rows.min()), int(rows.max()) + 1
    first_col, last_col = int(cols.min()), int(cols.max()) + 1
    box = (slice(first_row * TILE, last_row * TILE), slice(first_col * TILE, last_col * TILE))
    # Smoothness is judged at half size, where anti-aliased edges still show.
    half_tile = TILE // 2
    smooth_mid = _smooth_half(grey, box) & _half(mid[box], last_row * TILE - first_row * TILE)
    photo = np.zeros_like(candidates)
    photo[first_row:last_row, first_col:last_col] = (
        _tile_counts(smooth_mid, half_tile) >= _PHOTO_SHARE * half_tile * half_tile
    )
    photo &= candidates
    if not photo.any():
        return None
    return _grow(photo)


def _halftone_tiles(grey: Grey, black: Mask, tiles: Mask, screen: Grey) -> None:
    """Re-decide ``black`` inside the set ``tiles`` by the halftone ``screen``."""
    rows, cols = np.nonzero(tiles)
    top, bottom = int(rows.min()) * TILE, min((int(rows.max()) + 1) * TILE, grey.shape[0])
    left, right = int(cols.min()) * TILE, (int(cols.max()) + 1) * TILE
    sub = tiles[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    inside = np.repeat(np.repeat(sub, TILE, axis=0), TILE, axis=1)[: bottom - top]
    # The box starts on a tile edge, a whole number of cells from the page's
    # origin, so neighbouring photos share one screen.
    reps = (-(-(bottom - top) // screen.shape[0]), (right - left) // screen.shape[1])
    dots = grey[top:bottom, left:right] < np.tile(screen, reps)[: bottom - top]
    np.copyto(black[top:bottom, left:right], dots, where=inside)


def _tile_counts(mask: Mask, tile: int) -> Counts:
    """Set pixels per ``tile`` x ``tile`` tile (``tile`` 16 or 32); rows padded."""
    packed = np.packbits(mask, axis=1)
    short = -packed.shape[0] % tile
    if short:
        packed = np.pad(packed, ((0, short), (0, 0)))
    words = packed.view(np.uint32 if tile == 32 else np.uint16)
    per_row = np.bitwise_count(words)
    counts: Counts = per_row.reshape(-1, tile, words.shape[1]).sum(axis=1, dtype=np.int32)
    return counts


def _half(mask: Mask, rows: int) -> Mask:
    """Half-size ``mask`` padded to ``rows`` full rows: set where 2+ of 2x2 are."""
    if mask.shape[0] < rows:
        mask = np.pad(mask, ((0, rows - mask.shape[0]), (0, 0)))
    total = mask[0::2, 0::2].astype(np.uint8) + mask[1::2, 0::2] + mask[0::2, 1::2]
    total += mask[1::2, 1::2]
    result: Mask = total >= 2
    return result


def _smooth_half(grey: Grey, box: tuple[slice, slice]) -> Mask:
    """Half-size map of smooth pixels in ``box`` (whole tiles), from 2x2 means.

    Local contrast is the larger of the horizontal and vertical differences
    between the two neighbours of each half-size pixel; pixels below the page
    count as white.
    """
    rows = box[0].stop - box[0].start
    # One half-size pixel of context each side, where the page has it.
    top, left = max(box[0].start - 2, 0), max(box[1].start - 2, 0)
    bottom, right = box[0].stop + 2, min(box[1].stop + 2, grey.shape[1])
    block = grey[top:bottom, left:right]
    want = bottom - top
    if block.shape[0] < want:
        block = np.pad(block, ((0, want - block.shape[0]), (0, 0)), constant_values=255)
    wide = block.astype(np.int16)
    small = (wide[0::2, 0::2] + wide[1::2, 0::2] + wide[0::2, 1::2] + wide[1::2, 1::2]) >> 2
    small = np.pad(small, 1, mode="edge")
    y, x = (box[0].start - top) // 2 + 1, (box[1].start - left) // 2 + 1
    height, width = rows // 2, (box[1].stop - box[1].start) // 2

    def shifted(dy: int, dx: int) -> npt.NDArray[np.int16]:
        return small[y + dy : y + dy + height, x + dx : x + dx + width]

    across = np.abs(shifted(0, 1) - shifted(0, -1))
    down = np.abs(shifted(1, 0) - shifted(-1, 0))
    smooth: Mask = np.maximum(across, down) <= _SMOOTH_RANGE
    return smooth


def _grow(tiles: Mask) -> Mask:
    """Tiles with their eight neighbours set too (a 3x3 dilation)."""
    padded = np.pad(tiles, 1)
    grown = np.zeros_like(tiles)
    rows, cols = tiles.shape
    for dy in range(3):
        for dx in range(3):
            grown |= padded[dy : dy + rows, dx : dx + cols]
    return grown
