"""Grey pages become fax bits: text stays crisp, photos keep their tone and code small."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fax_gateway.bilevel import TEXT_THRESHOLD, TILE, Binarizer, halftone_screen, photo_tiles
from fax_gateway.libtiff import CcittTiffWriter, PageGeometry
from fax_gateway.profile_f import Coding

WIDTH, ROWS = 1728, 1000
FINE, STANDARD = 196 / 204, 98 / 204


def blank() -> np.ndarray:
    return np.full((ROWS, WIDTH), 255, dtype=np.uint8)


def unpack(bits: np.ndarray) -> np.ndarray:
    """Packed rows back to a boolean page, True = black."""
    return np.unpackbits(bits, axis=1)[:, :WIDTH].astype(bool)


def with_ramp(
    page: np.ndarray, top: int, left: int, rows: int, cols: int, tones: tuple[int, int] = (0, 255)
) -> None:
    """A smooth left-to-right ramp between ``tones``, the shape of a photo's tones."""
    ramp = np.linspace(*tones, cols).round().astype(np.uint8)
    page[top : top + rows, left : left + cols] = ramp


def coded_size(black: np.ndarray, tmp_path: Path) -> int:
    path = tmp_path / "page.tif"
    with CcittTiffWriter(path, Coding.T6) as writer:
        writer.write_page(
            np.packbits(black, axis=1).data,
            PageGeometry(WIDTH, black.shape[0], 204, 196),
            page_index=0,
            page_count=1,
        )
    return path.stat().st_size


@pytest.mark.parametrize(("y_per_x", "rows"), [(FINE, 8), (STANDARD, 4)])
def test_screen_dots_are_round_on_paper_and_tone_is_linear(y_per_x, rows):
    screen = halftone_screen(y_per_x)
    # Half the rows at 98 lines per inch: the same physical cell.
    assert screen.shape == (rows, 8)
    cells = screen.size
    for grey in range(0, 256, 5):
        black_share = np.count_nonzero(grey < screen) / cells
        assert abs(black_share - (1 - grey / 255)) <= 1 / cells + 0.01


def test_text_only_page_is_a_plain_threshold():
    page = blank()
    page[100:120, 50:900] = 0  # a rule
    page[300:310, 40:60] = 140  # dark grey glyph pixels: black
    page[400:410, 40:60] = 160  # light grey: white
    expected = page < TEXT_THRESHOLD
    bits = Binarizer(FINE).to_bits(page)
    assert bits.shape == (ROWS, WIDTH // 8)
    assert np.array_equal(unpack(bits), expected)
    assert photo_tiles(page, np.empty(page.shape, dtype=bool)) is None


def test_anti_aliased_text_edges_are_not_taken_for_a_photo():
    page = blank()
    # Strokes two pixels wide with a grey pixel on each edge, every 4 pixels:
    # mid-grey is plentiful, but always beside black and white.
    pattern = np.array([255, 128, 0, 0, 128, 255, 255, 255], dtype=np.uint8)
    page[200:600, :] = np.tile(pattern, WIDTH // pattern.size)
    assert photo_tiles(page, np.empty(page.shape, dtype=bool)) is None


def test_photo_is_screened_inside_its_tiles_and_text_beside_it_is_not():
    page = blank()
    # Mid-grey all along (50..200), so every tile it covers is photo-like.
    with_ramp(page, top=256, left=512, rows=320, cols=640, tones=(50, 200))
    page[40:60, 40:400] = 0  # a caption well above the photo
    tiles = photo_tiles(page, np.empty(page.shape, dtype=bool))
    assert tiles is not None
    # The ramp's tiles, grown by one tile on each side.
    rows, cols = np.nonzero(tiles)
    assert (rows.min(), rows.max() + 1) == (256 // TILE - 1, (256 + 320) // TILE + 1)
    assert (cols.min(), cols.max() + 1) == (512 // TILE - 1, (512 + 640) // TILE + 1)
    black = unpack(Binarizer(FINE).to_bits(page))
    assert np.array_equal(black[:200], page[:200] < TEXT_THRESHOLD)
    ramp = black[256 : 256 + 320, 512 : 512 + 640]
    # Tone kept along the ramp (a threshold would give 1, 1, 0): about
    # 1 - grey/255 black at grey 65, 125 and 185.
    for fraction, low, high in ((0.1, 0.65, 0.85), (0.5, 0.4, 0.6), (0.9, 0.17, 0.37)):
        column = int(fraction * 640)
        share = ramp[:, column - 16 : column + 16].mean()
        assert low <= share <= high


def test_halftone_codes_far_smaller_than_error_diffusion(tmp_path):
    page = blank()
    with_ramp(page, top=0, left=0, rows=ROWS, cols=WIDTH)
    screened = unpack(Binarizer(FINE).to_bits(page))
    diffused = np.asarray(Image.fromarray(page).convert("1")) == 0
    assert coded_size(screened, tmp_path) * 2 < coded_size(diffused, tmp_path)


def test_scratch_is_reused_across_page_sizes_without_mixing_pages():
    binarizer = Binarizer(FINE)
    tall = blank().repeat(2, axis=0)
    tall[1500:1510] = 0
    short = blank()
    short[10:12] = 0
    first = unpack(binarizer.to_bits(tall))
    second = unpack(binarizer.to_bits(short))
    assert first.shape == (2 * ROWS, WIDTH) and second.shape == (ROWS, WIDTH)
    assert np.array_equal(second, short < TEXT_THRESHOLD)
    assert np.array_equal(unpack(binarizer.to_bits(tall)), first)
