"""A coordinator's PDF becomes a TIFF Class F a fax machine accepts."""

from __future__ import annotations

import io
import threading
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image, ImageSequence
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.pdfgen import canvas

from fax_gateway.libtiff import CcittTiffWriter, PageGeometry
from fax_gateway.profile_f import Coding, Resolution, check_tiff_f
from fax_gateway.render import FAX_WIDTH, RenderError, render_pdf_to_tiff_f

DATE = datetime(2024, 5, 1, 10, 32)


def render(pdf: Path, out: Path, **options) -> list[Image.Image]:
    """Render and return the decoded pages; ``.info["tags"]`` holds each page's tags."""
    result = render_pdf_to_tiff_f(pdf, out, sender="Curbside Clinic", date=DATE, **options)
    assert result.path == out
    frames = []
    with Image.open(out) as image:
        for frame in ImageSequence.Iterator(image):
            tags = dict(frame.tag_v2)
            page = frame.copy()
            page.info["tags"] = tags
            frames.append(page)
    assert len(frames) == result.pages
    return frames


@pytest.mark.parametrize("name", ["letter_text", "a4_text", "scanned_photo", "landscape"])
@pytest.mark.parametrize("coding", list(Coding))
@pytest.mark.parametrize("resolution", list(Resolution))
def test_every_sample_is_profile_f(sample_pdfs, tmp_path, name, coding, resolution):
    out = tmp_path / "out.tif"
    frames = render(sample_pdfs[name], out, coding=coding, resolution=resolution)
    assert check_tiff_f(out, decode=True) == []
    for number, frame in enumerate(frames):
        tags = frame.info["tags"]
        assert frame.size[0] == FAX_WIDTH
        assert tags[262] == 0  # WhiteIsZero
        assert tags[259] == (4 if coding is Coding.T6 else 3)
        if coding is Coding.T6:
            assert tags[293] == 0
        else:
            assert tags[292] == (1 if coding is Coding.T4_MR else 0)
        assert float(tags[282]) == 204 and float(tags[283]) == resolution.y_dpi
        assert tags[296] == 2 and tags[266] == 1 and tags[254] == 2
        assert tuple(tags[297]) == (number, len(frames))
        assert len(tags[273]) == 1 and tags[278] >= frame.size[1]


@pytest.mark.parametrize(
    ("name", "fine_rows"),
    [("letter_text", 2149), ("a4_text", 2292), ("landscape", 2149)],
)
def test_page_length_follows_paper_size_and_line_density(sample_pdfs, tmp_path, name, fine_rows):
    fine = render(sample_pdfs[name], tmp_path / "fine.tif", resolution=Resolution.FINE)
    standard = render(sample_pdfs[name], tmp_path / "std.tif", resolution=Resolution.STANDARD)
    assert fine[0].size == (FAX_WIDTH, fine_rows)
    assert abs(standard[0].size[1] - fine_rows / 2) <= 1


def black_share(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    histogram = image.convert("L").crop(box).histogram()
    return histogram[0] / sum(histogram)


def test_landscape_page_is_turned_not_clipped(sample_pdfs, tmp_path):
    (page,) = render(sample_pdfs["landscape"], tmp_path / "l.tif")
    # The 20 table rules of the landscape page run down the portrait page:
    # a column in the middle of the page crosses all of them.
    column = page.convert("L").crop((FAX_WIDTH // 2, 0, FAX_WIDTH // 2 + 1, page.size[1]))
    rules = sum(1 for band in _runs(column) if band)
    assert rules >= 20


def _runs(column: Image.Image) -> list[bool]:
    runs: list[bool] = []
    previous = None
    for value in column.tobytes():
        black = value == 0
        if black != previous and black:
            runs.append(True)
        previous = black
    return runs


def test_photo_is_dithered_and_text_is_thresholded(sample_pdfs, tmp_path):
    (page,) = render(sample_pdfs["scanned_photo"], tmp_path / "p.tif")
    dpi = 204
    rows_per_pt = 196 / 72
    # The grey ramp spans x 72..522 pt; A4 is 595 pt wide and sits centred.
    left = (FAX_WIDTH - 595 * dpi / 72) / 2
    top = page.size[1] - 650 * rows_per_pt

    def ramp_box(fraction: float) -> tuple[int, int, int, int]:
        x = int(left + (72 + 450 * fraction) * dpi / 72)
        return (x - 20, int(top) + 100, x + 20, int(top) + 400)

    # Dithering keeps the tone: dark end mostly black, light end mostly white,
    # the middle in between. A hard threshold would give ~1.0, 1.0, 0.0.
    assert black_share(page, ramp_box(0.15)) > 0.6
    assert 0.3 < black_share(page, ramp_box(0.5)) < 0.7
    assert black_share(page, ramp_box(0.85)) < 0.4
    # The caption and header are crisp: no dithering noise in their rows.
    caption_rows = page.convert("L").crop((0, 0, FAX_WIDTH, int(top) - 40))
    assert 0 < caption_rows.histogram()[0] / (caption_rows.size[0] * caption_rows.size[1]) < 0.05


def test_header_line_on_every_page(sample_pdfs, tmp_path):
    frames = render(sample_pdfs["a4_text"], tmp_path / "h.tif", resolution=Resolution.STANDARD)
    for frame in frames:
        band = frame.convert("L").crop((0, 0, FAX_WIDTH, 15))
        assert band.histogram()[0] > 200  # text in the header band
    bands = [frame.convert("L").crop((1500, 0, FAX_WIDTH, 15)).tobytes() for frame in frames]
    assert bands[0] != bands[1]  # "Page 1/2" vs "Page 2/2"


def test_progress_reports_each_page(thirty_page_pdf, tmp_path):
    calls: list[tuple[int, int]] = []
    result = render_pdf_to_tiff_f(
        thirty_page_pdf,
        tmp_path / "long.tif",
        sender="Curbside Clinic",
        date=DATE,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert result.pages == 30
    assert calls == [(n, 30) for n in range(1, 31)]
    assert check_tiff_f(result.path) == []


def test_pdf_bytes_are_accepted(sample_pdfs, tmp_path):
    out = tmp_path / "b.tif"
    data = sample_pdfs["letter_text"].read_bytes()
    result = render_pdf_to_tiff_f(data, out, sender="Curbside Clinic", date=DATE)
    assert result.pages == 1 and check_tiff_f(out) == []


def test_damaged_pdf_is_refused_and_nothing_is_written(tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\nthis is not a pdf")
    out = tmp_path / "bad.tif"
    with pytest.raises(RenderError):
        render_pdf_to_tiff_f(bad, out, sender="Curbside Clinic", date=DATE)
    assert not out.exists()


def test_progress_comes_from_the_calling_thread(thirty_page_pdf, tmp_path):
    threads: set[int] = set()
    render_pdf_to_tiff_f(
        thirty_page_pdf,
        tmp_path / "t.tif",
        sender="Curbside Clinic",
        date=DATE,
        progress=lambda done, total: threads.add(threading.get_ident()),
    )
    assert threads == {threading.get_ident()}


def test_failure_mid_document_stops_rendering_and_removes_the_file(thirty_page_pdf, tmp_path):
    out = tmp_path / "stopped.tif"
    seen: list[int] = []

    def stop_at_three(done: int, total: int) -> None:
        seen.append(done)
        if done == 3:
            raise RuntimeError("operator cancelled")

    with pytest.raises(RuntimeError, match="operator cancelled"):
        render_pdf_to_tiff_f(
            thirty_page_pdf, out, sender="Curbside Clinic", date=DATE, progress=stop_at_three
        )
    assert seen == [1, 2, 3]
    assert not out.exists()
    assert not [t for t in threading.enumerate() if t.name.startswith("fax-render")]


def test_pages_of_different_sizes_in_one_document(tmp_path):
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for size in (letter, A4, landscape(letter), letter):
        pdf.setPageSize(size)
        pdf.setFont("Helvetica", 12)
        pdf.drawString(72, size[1] - 72, f"A page of {size[0]:.0f} x {size[1]:.0f} points")
        pdf.showPage()
    pdf.save()
    frames = render(buffer.getvalue(), tmp_path / "mixed.tif")
    assert [frame.size for frame in frames] == [
        (FAX_WIDTH, 2149),
        (FAX_WIDTH, 2292),
        (FAX_WIDTH, 2149),
        (FAX_WIDTH, 2149),
    ]
    assert check_tiff_f(tmp_path / "mixed.tif", decode=True) == []
    # Recycled page memory is blanked: the short pages carry no rows of the tall one.
    assert black_share(frames[3], (0, 1000, FAX_WIDTH, 2149)) == 0


def test_tiff_writer_takes_bytes_and_writable_buffers_alike(tmp_path):
    rows = 100
    bits = bytes([0b10100000] * (rows * FAX_WIDTH // 8))
    written = []
    for name, data in (("bytes", bits), ("buffer", memoryview(bytearray(bits)))):
        path = tmp_path / f"{name}.tif"
        with CcittTiffWriter(path, Coding.T6) as writer:
            geometry = PageGeometry(FAX_WIDTH, rows, 204, 196)
            writer.write_page(data, geometry, page_index=0, page_count=1)
        written.append(path.read_bytes())
    assert written[0] == written[1]
