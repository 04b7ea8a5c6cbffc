"""A received fax becomes a PDF whose pages carry the fax's own CCITT bytes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pikepdf
import pypdfium2
import pytest
from PIL import Image, ImageChops, ImageSequence

from fax_gateway.inbound_pdf import InboundFaxError, tiff_to_pdf
from fax_gateway.loopback import send_over_loopback
from fax_gateway.profile_f import Coding, Resolution
from fax_gateway.render import render_pdf_to_tiff_f

DATE = datetime(2024, 5, 1, 10, 32)
REVERSE = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def strips(tiff: Path) -> list[list[bytes]]:
    """Raw strip bytes of every page, MSB first, read straight from the file."""
    result = []
    data = tiff.read_bytes()
    with Image.open(tiff) as image:
        for frame in ImageSequence.Iterator(image):
            tags = frame.tag_v2
            page = [data[o : o + n] for o, n in zip(tags[273], tags[279], strict=True)]
            if tags.get(266, 1) == 2:
                page = [s.translate(REVERSE) for s in page]
            result.append(page)
    return result


def decoded_by_pdfium(pdf: Path) -> list[Image.Image]:
    """Each page's fax images as pdfium decodes them, stacked top to bottom."""
    document = pypdfium2.PdfDocument(pdf)
    pages = []
    for page in document:
        images = [
            obj.get_bitmap().to_pil().convert("L")
            for obj in page.get_objects()
            if obj.type == pypdfium2.raw.FPDF_PAGEOBJ_IMAGE
        ]
        stacked = Image.new("L", (images[0].width, sum(i.height for i in images)))
        y = 0
        for image in images:
            stacked.paste(image, (0, y))
            y += image.height
        pages.append(stacked)
    document.close()
    return pages


def assert_lossless(tiff: Path, pdf: Path) -> None:
    expected_strips = strips(tiff)
    with pikepdf.open(pdf) as document:
        assert len(document.pages) == len(expected_strips)
        for page, page_strips in zip(document.pages, expected_strips, strict=True):
            xobjects = page.Resources.XObject
            streams = [xobjects[f"/Fax{i}"] for i in range(len(page_strips))]
            for stream, strip in zip(streams, page_strips, strict=True):
                assert stream.Filter == pikepdf.Name.CCITTFaxDecode
                assert stream.read_raw_bytes() == strip
    with Image.open(tiff) as image:
        frames = [frame.convert("L") for frame in ImageSequence.Iterator(image)]
    for frame, decoded in zip(frames, decoded_by_pdfium(pdf), strict=True):
        assert ImageChops.difference(frame, decoded).getbbox() is None


@pytest.mark.parametrize("coding", list(Coding))
@pytest.mark.parametrize("resolution", list(Resolution))
def test_rendered_fax_round_trips(sample_pdfs, tmp_path, coding, resolution):
    tiff = tmp_path / "fax.tif"
    rendered = render_pdf_to_tiff_f(
        sample_pdfs["a4_text"],
        tiff,
        sender="Curbside",
        date=DATE,
        coding=coding,
        resolution=resolution,
    )
    result = tiff_to_pdf(tiff, tmp_path / "fax.pdf")
    assert result.pages == rendered.pages == 2
    assert_lossless(tiff, result.path)
    with pikepdf.open(result.path) as document:
        parms = document.pages[0].Resources.XObject["/Fax0"].DecodeParms
        assert int(parms.K) == {Coding.T6: -1, Coding.T4_MH: 0, Coding.T4_MR: 1}[coding]
        assert int(parms.Columns) == 1728 and bool(parms.BlackIs1) is False
        # A4 is 595 x 842 pt; the fax is 1728 px at 204 dpi, and as long as A4.
        width, height = (float(v) for v in document.pages[0].MediaBox[2:])
        assert width == pytest.approx(1728 / 204 * 72, abs=0.01)
        assert height == pytest.approx(842, abs=1)


def test_fax_received_by_spandsp_round_trips(sample_pdfs, tmp_path):
    sent = tmp_path / "sent.tif"
    render_pdf_to_tiff_f(sample_pdfs["a4_text"], sent, sender="Curbside", date=DATE)
    received = tmp_path / "received.tif"
    call = send_over_loopback(sent, received, caller_ident="A", called_number="B")
    assert call.success
    with Image.open(received) as image:  # spandsp writes T.4 2-D, LSB first
        assert image.tag_v2[259] == 3 and image.tag_v2[266] == 2
    result = tiff_to_pdf(received, tmp_path / "received.pdf")
    assert result.pages == call.pages_transferred == 2
    assert_lossless(received, result.path)


def test_many_strips_and_black_is_zero(tmp_path):
    tiff = tmp_path / "strips.tif"
    page = Image.linear_gradient("L").resize((1728, 1100)).convert("1")
    page.save(tiff, compression="group4", strip_size=20000, dpi=(204, 98))
    with Image.open(tiff) as image:
        assert len(image.tag_v2[273]) > 1 and image.tag_v2[262] == 1
    result = tiff_to_pdf(tiff, tmp_path / "strips.pdf")
    assert_lossless(tiff, result.path)
    with pikepdf.open(result.path) as document:
        assert bool(document.pages[0].Resources.XObject["/Fax0"].DecodeParms.BlackIs1)
        assert float(document.pages[0].MediaBox[3]) == pytest.approx(1100 / 98 * 72, abs=0.01)


def test_not_ccitt_is_refused(tmp_path):
    tiff = tmp_path / "grey.tif"
    Image.linear_gradient("L").save(tiff)
    with pytest.raises(InboundFaxError, match="not a bilevel"):
        tiff_to_pdf(tiff, tmp_path / "grey.pdf")
    assert not (tmp_path / "grey.pdf").exists()
