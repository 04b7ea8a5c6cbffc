"""Every rendered document goes through a real T.30 call (spandsp) intact."""

from __future__ import annotations

import ctypes.util
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageSequence

from fax_gateway import spandsp
from fax_gateway.loopback import send_over_loopback
from fax_gateway.profile_f import Coding, Resolution, check_tiff_f
from fax_gateway.render import render_pdf_to_tiff_f

DATE = datetime(2024, 5, 1, 10, 32)


def assert_same_pages(sent: Path, received: Path) -> None:
    with Image.open(sent) as a, Image.open(received) as b:
        pairs = list(zip(ImageSequence.Iterator(a), ImageSequence.Iterator(b), strict=False))
        assert len(pairs) == getattr(a, "n_frames", 1) == getattr(b, "n_frames", 1)
        for x, y in pairs:
            assert x.size == y.size
            assert ImageChops.difference(x.convert("L"), y.convert("L")).getbbox() is None


@pytest.mark.parametrize("name", ["letter_text", "a4_text", "scanned_photo", "landscape"])
@pytest.mark.parametrize("coding", list(Coding))
def test_sample_is_received_page_for_page(sample_pdfs, tmp_path, name, coding):
    sent = tmp_path / "sent.tif"
    rendered = render_pdf_to_tiff_f(
        sample_pdfs[name], sent, sender="Curbside Clinic", date=DATE, coding=coding
    )
    received = tmp_path / "inbox" / "received.tif"
    result = send_over_loopback(
        sent, received, caller_ident="+1 555 0100", called_number="+1 555 0199"
    )
    assert result.success, result.completion_text
    assert result.completion_code == 0 and result.completion_text == "OK"
    assert result.pages_transferred == rendered.pages
    assert result.remote_ident == "+1 555 0100"
    assert result.received_path == received
    assert_same_pages(sent, received)


def test_thirty_pages_without_ecm_at_standard_resolution(thirty_page_pdf, tmp_path):
    sent = tmp_path / "sent.tif"
    render_pdf_to_tiff_f(
        thirty_page_pdf,
        sent,
        sender="Curbside Clinic",
        date=DATE,
        resolution=Resolution.STANDARD,
        coding=Coding.T4_MR,
    )
    received = tmp_path / "received.tif"
    result = send_over_loopback(
        sent, received, caller_ident="CURBSIDE", called_number="+1 555 0199", ecm=False
    )
    assert result.success, result.completion_text
    assert result.pages_transferred == 30
    assert_same_pages(sent, received)


def test_thirty_fine_pages_with_ecm(thirty_page_pdf, tmp_path):
    sent = tmp_path / "sent.tif"
    render_pdf_to_tiff_f(thirty_page_pdf, sent, sender="Curbside Clinic", date=DATE)
    assert check_tiff_f(sent) == []
    result = send_over_loopback(
        sent, tmp_path / "received.tif", caller_ident="CURBSIDE", called_number="+1 555 0199"
    )
    assert result.success and result.pages_transferred == 30


def test_spandsp_refuses_a_file_that_is_not_tiff_f(tmp_path):
    grey = tmp_path / "grey.tif"
    Image.linear_gradient("L").save(grey)
    result = send_over_loopback(
        grey, tmp_path / "received.tif", caller_ident="CURBSIDE", called_number="1"
    )
    assert not result.success
    assert result.pages_transferred == 0
    assert result.completion_code != 0


def test_a_stuck_call_is_bounded(sample_pdfs, tmp_path):
    sent = tmp_path / "sent.tif"
    render_pdf_to_tiff_f(sample_pdfs["letter_text"], sent, sender="Curbside", date=DATE)
    result = send_over_loopback(
        sent, tmp_path / "r.tif", caller_ident="A", called_number="B", max_seconds=2
    )
    assert not result.success
    assert result.completion_code == -1
    assert result.line_seconds == pytest.approx(2, abs=0.05)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        send_over_loopback(
            tmp_path / "none.tif", tmp_path / "r.tif", caller_ident="A", called_number="B"
        )


def test_missing_library_names_the_debian_package(monkeypatch):
    monkeypatch.setattr(spandsp, "_lib", None)
    # Another ABI on the library path must not be picked up in its place.
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libspandsp.so.3")
    asked: list[str] = []

    def no_library(name, *args, **kwargs):
        asked.append(name)
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(spandsp.ctypes, "CDLL", no_library)
    with pytest.raises(spandsp.SpandspUnavailable, match="libspandsp2"):
        spandsp.load_spandsp()
    assert asked == ["libspandsp.so.2"]
