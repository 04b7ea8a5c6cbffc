"""The untrusted-document sandbox: hostile files refused with a reason, valid ones accepted.

Every document from outside passes ``Sandbox.inspect`` / ``Sandbox.as_pdf``
(the webhook, the outbox, the bridge, referral attachments). The files are
built by ``tests/support/documents.py`` at the issue's sizes.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pikepdf
import pytest
from fax_documents import text_letter
from PIL import Image

from fax_gateway import DocumentRefused, DocumentSettings, Sandbox
from fax_gateway.probe import ProbeLimits, probe
from tests.support import documents


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(accounting=tmp_path / "children.jsonl")
    yield box
    box.close()


HOSTILE: list[tuple[str, Callable[[], bytes], int, str]] = [
    ("page-tree bomb", documents.page_tree_bomb, 422, "3,300,000 (by its page count) pages"),
    ("kids listed without a count", lambda: documents.page_tree_bomb(2_000).replace(
        b"/Count 2000", b"/Count 1"), 422, "2,000 (listed in one page tree node)"),
    ("20,001-page TIFF", documents.many_page_tiff, 422, "more than 500 pages"),
    ("2^31 x 2^31 TIFF", documents.giant_tiff, 422, "TIFF page 1 is 4,611,686,018,427,387,904"),
    ("RowsPerStrip 0", documents.zero_rows_tiff, 422, "RowsPerStrip 0"),
    ("looping TIFF", documents.looping_tiff, 422, "loops back on itself"),
    ("decompression-bomb PNG", documents.png_bomb, 422, "900,000,000 pixels"),
    ("page tree cycle", documents.page_tree_cycle, 422, "the PDF cannot be read"),
    ("huge image in a PDF", documents.huge_image_pdf, 422, "an image in the PDF is"),
    ("not a document", lambda: b"MZ\x90\x00 a program", 415, "not a PDF, TIFF, PNG or JPEG"),
    ("over the size limit", lambda: b"%PDF-" + b"0" * (20 * 2**20), 413, "the limit is 20.0 MiB"),
]


@pytest.mark.parametrize(("case", "build", "status", "reason"), HOSTILE,
                         ids=[case for case, *_ in HOSTILE])
def test_hostile_documents_are_refused_with_a_reason(
    sandbox: Sandbox, case: str, build: Callable[[], bytes], status: int, reason: str
) -> None:
    with pytest.raises(DocumentRefused) as refused:
        sandbox.inspect(build())
    assert refused.value.status == status
    assert reason in refused.value.reason


def test_a_tree_only_the_parser_sees_is_stopped_by_the_childs_limits(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The page-tree bomb inside a compressed object stream: no byte scan sees it, so the
    child parses until a limit (memory, CPU, wall clock) kills it; the caller is told."""
    # Which limit stops it depends on where the parser's allocation fails: a
    # MemoryError the child catches and answers, or a kill by the kernel.
    with pytest.raises(DocumentRefused, match=r"needs more memory than the sandbox allows|"
                       r"within the sandbox's memory and time limits") as refused:
        sandbox.inspect(documents.hidden_page_tree_bomb())
    assert refused.value.status == 422
    sandbox.close()
    ends = [json.loads(line) for line in (tmp_path / "children.jsonl").read_text().splitlines()]
    if "within the sandbox's" in str(refused.value):
        assert any(end["signal"] is not None for end in ends)  # killed, not finished
    assert max(end["peak_rss_kb"] for end in ends) < 300 * 1024


def test_valid_documents_are_accepted_and_counted(sandbox: Sandbox) -> None:
    facts = sandbox.inspect(text_letter(30), kinds=("pdf",))
    assert (facts.kind, facts.pages) == ("pdf", 30)
    assert facts == probe(text_letter(30), ProbeLimits())  # the same checks as in-process
    assert sandbox.inspect(documents.make_png(), kinds=("png",)).kind == "png"
    assert sandbox.inspect(documents.make_tiff(pages=3)).pages == 3


def test_a_kind_not_accepted_here_is_415(sandbox: Sandbox) -> None:
    with pytest.raises(DocumentRefused, match="a PNG file is not accepted here") as refused:
        sandbox.inspect(documents.make_png(), kinds=("pdf", "tiff"))
    assert refused.value.status == 415


def test_a_received_fax_tiff_becomes_a_pdf_in_the_child(sandbox: Sandbox, tmp_path: Path) -> None:
    tiff = tmp_path / "fax.tif"
    pages = [Image.linear_gradient("L").resize((1728, 1100)).convert("1") for _ in range(2)]
    pages[0].save(tiff, compression="group4", save_all=True, append_images=pages[1:],
                  dpi=(204, 98))
    pdf, facts = sandbox.as_pdf(tiff.read_bytes(), kinds=("pdf", "tiff"))
    assert (facts.kind, facts.pages) == ("tiff", 2)
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert len(document.pages) == 2


def test_limits_are_configurable(tmp_path: Path) -> None:
    strict = Sandbox(DocumentSettings(max_pages=2, max_pixels=10_000, max_bytes=4096))
    try:
        with pytest.raises(DocumentRefused, match="the limit is 2"):
            strict.inspect(text_letter(3))
        with pytest.raises(DocumentRefused, match="the limit is 10,000"):
            strict.inspect(documents.make_png(200, 100))
        with pytest.raises(DocumentRefused) as refused:
            strict.inspect(documents.make_png(20, 20) + b"\x00" * 5000)
        assert refused.value.status == 413
    finally:
        strict.close()


def test_a_dead_server_is_replaced_and_close_leaves_no_process(sandbox: Sandbox) -> None:
    sandbox.inspect(documents.make_pdf())
    process = sandbox._process
    assert process is not None
    process.kill()
    process.wait()
    assert sandbox.inspect(documents.make_pdf()).pages == 1
    server = sandbox._process
    assert server is not None and server.pid != process.pid
    sandbox.close()
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
