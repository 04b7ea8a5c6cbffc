"""The log filter masks remembered PHI values and PHI shapes."""

from __future__ import annotations

import logging

import pytest

from curbside import redaction


@pytest.fixture
def records() -> list[str]:
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    handler = Collect()
    redaction.install(handler)
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield seen
    logger.removeHandler(handler)


def test_remembered_value_is_masked_in_args(records: list[str]) -> None:
    redaction.remember("Quillon Vantablack")
    logging.getLogger("test.redaction").info("referral for %s created", "Quillon Vantablack")
    assert records == ["referral for [REDACTED] created"]


@pytest.mark.parametrize(
    "line",
    [
        "ssn 123-45-6789 on file",
        "mail dana.patient@example.org",
        "call (617) 555-0147 today",
        "DOB: 03/14/1951",
        "MRN: A1234567",
    ],
)
def test_shapes_are_masked(records: list[str], line: str) -> None:
    logging.getLogger("test.redaction").warning(line)
    assert "[REDACTED]" in records[0]
    assert not any(ch.isdigit() for ch in records[0].split("[REDACTED]")[0][-3:])


def test_exception_text_is_masked(records: list[str]) -> None:
    redaction.remember("Ottoline Pemberfax")
    try:
        raise ValueError("bad name Ottoline Pemberfax")
    except ValueError:
        logging.getLogger("test.redaction").exception("failed")
    assert "Ottoline" not in records[0]


def test_ordinary_text_passes(records: list[str]) -> None:
    logging.getLogger("test.redaction").info("synced %d rooms in %.1f s", 12, 0.4)
    assert records == ["synced 12 rooms in 0.4 s"]
