"""The bridge's pure parts: numbers ⇄ puppets, ``!fax`` parsing, status texts,
documents, and what each start-up ping failure is reported as."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pikepdf
import pytest
from PIL import Image

from bridge.commands import FaxCommandError, parse
from bridge.errors import ExitCode
from bridge.homeserver import _ping_error
from bridge.numbers import display, number_of, puppet_id
from bridge.portal import as_pdf
from bridge.relay import status_text
from fax_gateway.outbox import InvalidDocument, JobChange
from fax_gateway.status import JobState

SERVER = "curbside.test"


def test_numbers_and_puppets_map_both_ways() -> None:
    assert puppet_id("+1 (555) 123-4567", SERVER) == "@fax_15551234567:curbside.test"
    assert number_of("@fax_15551234567:curbside.test", SERVER) == "+15551234567"
    assert number_of("@fax_15551234567:elsewhere.org", SERVER) is None
    assert number_of("@lee:curbside.test", SERVER) is None
    assert display("+15551234567") == "+1 555 123 4567"
    assert display("+442071234567") == "+442071234567"


def test_fax_commands_take_numbers_with_spaces_and_names_with_apostrophes() -> None:
    parsed = parse("!fax confirm +1 555 123 4567 Dr. Lee's office")
    assert (parsed.action, parsed.number, parsed.rest) == (
        "confirm", "+15551234567", "Dr. Lee's office")
    assert parse("!fax").action == "help"
    assert parse("!fax assign +15551234567 #cardiology:curbside.test").rest == \
        "#cardiology:curbside.test"
    with pytest.raises(FaxCommandError, match="'555 1234' is not a fax number"):
        parse("!fax confirm 555 1234 Dr. Lee")


def _change(state: JobState, reason: str = "") -> JobChange:
    return JobChange(1, "job", state, reason, datetime.now(UTC))


def test_status_texts_say_what_a_sender_needs() -> None:
    number = "+15551234567"
    assert status_text(_change(JobState.QUEUED, "submitted"), number, 3) is None
    assert status_text(_change(JobState.RENDERING), number, 3) is None
    assert status_text(_change(JobState.DELIVERED), number, 3) == \
        "Delivered to +1 555 123 4567 — 3 pages."
    failed = status_text(_change(JobState.FAILED, "busy line, deadline passed"), number, 3)
    assert failed is not None and "busy line, deadline passed" in failed
    retry = status_text(_change(JobState.QUEUED, "no answer"), number, 3)
    assert retry is not None and "no answer" in retry


def test_a_photo_of_a_page_becomes_a_one_page_pdf() -> None:
    buffer = io.BytesIO()
    Image.new("L", (850, 1100), color=255).save(buffer, "PNG")
    pdf = as_pdf(buffer.getvalue(), "image/png")
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert len(document.pages) == 1
    with pytest.raises(InvalidDocument):
        as_pdf(b"not a document", "application/octet-stream")


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (401, {"errcode": "M_UNKNOWN_TOKEN"}, ExitCode.REGISTRATION_NOT_INSTALLED),
        (403, {"errcode": "M_FORBIDDEN"}, ExitCode.REGISTRATION_NOT_INSTALLED),
        (502, {"errcode": "M_BAD_STATUS", "status": 403}, ExitCode.HS_TOKEN_MISMATCH),
        (502, {"errcode": "M_CONNECTION_FAILED"}, ExitCode.BRIDGE_UNREACHABLE),
        (504, {"errcode": "M_CONNECTION_TIMEOUT"}, ExitCode.BRIDGE_UNREACHABLE),
    ],
)
def test_each_ping_failure_names_its_cause(
    status: int, body: dict[str, object], code: ExitCode
) -> None:
    assert _ping_error(status, body, "curbside-fax").code is code
