"""Fixtures for the fax gateway tests: sample PDFs written to a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from fax_documents import SAMPLE_DOCUMENTS, text_letter


@pytest.fixture(scope="session")
def sample_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every sample document as a PDF file, by name."""
    folder = tmp_path_factory.mktemp("pdfs")
    paths = {}
    for name, make in SAMPLE_DOCUMENTS.items():
        path = folder / f"{name}.pdf"
        path.write_bytes(make())
        paths[name] = path
    return paths


@pytest.fixture(scope="session")
def thirty_page_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("long") / "thirty.pdf"
    path.write_bytes(text_letter(30))
    return path
