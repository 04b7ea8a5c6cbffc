"""Hostile input to the fax webhook: every malformed call is a 4xx, audited, and leaves nothing.

Requirement → scenario → expected status, as in ``tests/policy/``. The actor
is always "anonymous" (the webhook is public); a signed call is one whose
attacker has the callback token (a leaked token, or Phaxio relaying a
hostile sender's fax), which is why signed calls are attacked too. After each
attempt the state is read back: no inbound row, no document file, and one
more ``fax.webhook.rejected`` audit row. The errcode column holds the reason
class the answer must name.

Before the fix these answered 500 (and Phaxio retries a 5xx for ever): a
non-ASCII signature (TypeError), five malformed multipart bodies
(ValueError), deeply nested JSON (RecursionError), a ``from_number`` object
(AttributeError after the document was written), a 2^31 x 2^31 TIFF
(DecompressionBombError) and a zero-rows-per-strip TIFF (ZeroDivisionError).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.adversary.ledger import Attempt, judge
from tests.adversary.webhook_world import (
    MAX_BODY,
    Webhook,
    audit_rows_per_minute,
    multipart,
    post_form,
    raw_post,
    webhook,
    webhook_engine,
)
from tests.support import documents
from tests.support.documents import make_pdf

__all__ = ["audit_rows_per_minute", "webhook", "webhook_engine"]  # fixtures used below

RULE = "webhooks never 500 on input"
MULTIPART = (b"Content-Type", b"multipart/form-data; boundary=b0undary")


def _nested(depth: int) -> str:
    return '{"id": 900, "direction": "received", "x": ' + "[" * depth + "]" * depth + "}"


# -- refused before the signature is checked: the body itself is broken ---------------

RAW_BODIES: list[tuple[str, list[tuple[bytes, bytes]], bytes, int]] = [
    ("multipart without a boundary", [(b"Content-Type", b"multipart/form-data")],
     b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--\r\n", 400),
    ("multipart cut off mid-part", [MULTIPART],
     b'--b0undary\r\nContent-Disposition: form-data; name="a"\r\n\r\n1', 400),
    ("multipart part without a name", [MULTIPART],
     b"--b0undary\r\nContent-Type: text/plain\r\n\r\n1\r\n--b0undary--\r\n", 400),
    ("multipart with no starting boundary", [MULTIPART], b"\x00\xff garbage", 400),
    ("multipart part header without a colon", [MULTIPART],
     b"--b0undary\r\nContent-Disposition form-data name\r\n\r\n1\r\n--b0undary--\r\n", 400),
    ("multipart part in an unknown charset", [MULTIPART],
     b'--b0undary\r\nContent-Disposition: form-data; name="a"\r\n'
     b"Content-Type: text/plain; charset=nonexistent\r\n\r\n1\r\n--b0undary--\r\n", 400),
    ("multipart part in an unknown transfer encoding", [MULTIPART],
     b'--b0undary\r\nContent-Disposition: form-data; name="a"\r\n'
     b"Content-Transfer-Encoding: rot13\r\n\r\n1\r\n--b0undary--\r\n", 400),
    ("multipart nested in multipart", [MULTIPART],
     b'--b0undary\r\nContent-Disposition: form-data; name="a"\r\n'
     b"Content-Type: multipart/mixed; boundary=y\r\n\r\n--y\r\n\r\nz\r\n--y--\r\n"
     b"--b0undary--\r\n", 400),
    ("a JSON body instead of a form", [(b"Content-Type", b"application/json")],
     b'{"fax": {"id": 1}}', 415),
    ("no content type at all", [], b"fax=1", 415),
    ("an empty multipart form, unsigned", [MULTIPART], b"--b0undary--\r\n", 401),
]


@pytest.mark.parametrize(("case", "headers", "body", "status"), RAW_BODIES,
                         ids=[case for case, *_ in RAW_BODIES])
async def test_a_broken_body_is_refused_and_audited(
    webhook: Webhook, case: str, headers: list[tuple[bytes, bytes]], body: bytes, status: int
) -> None:
    answer = await raw_post(webhook.url, headers, body)
    judge(Attempt(RULE, "anonymous", f"POST callback: {case}", status), answer)
    assert webhook.written() == (0, 0, 1)


async def test_a_body_over_the_limit_is_refused_before_it_is_read(webhook: Webhook) -> None:
    fields, files = webhook.received(b"%PDF-" + b"0" * MAX_BODY)
    answer = await post_form(webhook, fields, files)
    judge(Attempt(RULE, "anonymous", "POST callback: body over max_inbound_bytes", 413), answer)
    assert webhook.written() == (0, 0, 1)


# -- the signature -----------------------------------------------------------------------

SIGNATURES: list[tuple[str, bytes | None, int]] = [
    ("no signature", None, 401),
    ("a non-ASCII signature", "é".encode() * 40, 403),
    ("a signature of invalid UTF-8", b"\xff\xfe" * 20, 403),
    ("a signature that is 4 KB long", b"a" * 4_000, 403),
    ("a signature for another body", b"0" * 40, 403),
]


@pytest.mark.parametrize(("case", "signature", "status"), SIGNATURES,
                         ids=[case for case, *_ in SIGNATURES])
async def test_a_bad_signature_is_refused_and_audited(
    webhook: Webhook, case: str, signature: bytes | None, status: int
) -> None:
    fields, files = webhook.received(make_pdf())
    answer = await post_form(webhook, fields, files, signature=signature)
    judge(Attempt(RULE, "anonymous", f"POST callback with {case}", status), answer)
    assert webhook.written() == (0, 0, 1)


async def test_a_header_line_over_8_kb_is_refused_by_the_http_parser(webhook: Webhook) -> None:
    """aiohttp's parser answers 400 before any handler runs, so no audit row: nothing
    reached the application (its access log records the refusal)."""
    fields, files = webhook.received(make_pdf())
    answer = await post_form(webhook, fields, files, signature=b"a" * 10_000)
    judge(Attempt(RULE, "anonymous", "POST callback with a 10 KB signature header", 400), answer)
    assert webhook.written() == (0, 0, 0)


# -- signed, but the fax object is hostile -----------------------------------------------


Callback = tuple[dict[str, str], dict[str, bytes]]


def _fields(hook: Webhook, fax: str, direction: str = "received") -> Callback:
    fields, files = hook.received(make_pdf())
    return {**fields, "fax": fax, "direction": direction}, files


FAX_OBJECTS: list[tuple[str, Callable[[Webhook], Callback], int]] = [
    ("fax JSON nested 20,000 deep", lambda h: _fields(h, _nested(20_000)), 400),
    ("fax JSON nested 50 deep", lambda h: _fields(h, _nested(50)), 400),
    ("fax parameter that is not JSON", lambda h: _fields(h, "{not json"), 400),
    ("fax parameter that is a JSON list", lambda h: _fields(h, "[1, 2, 3]"), 400),
    ("fax id that is an object", lambda h: _fields(h, '{"id": {"$gt": 0}}'), 400),
    ("fax id that is a 5,000-digit number", lambda h: _fields(h, '{"id": ' + "9" * 5000 + "}"),
     400),
    ("fax id that is negative", lambda h: _fields(h, '{"id": -5}'), 400),
    ("fax parameter of 100 KB", lambda h: _fields(h, json.dumps({"id": 1, "p": "x" * 100_000})),
     413),
    ("from_number that is an object", lambda h: h.received(make_pdf(), from_number={"a": 1}),
     422),
    ("from_number that is a list", lambda h: h.received(make_pdf(), from_number=["+1"]), 422),
    ("to_number missing", lambda h: h.received(make_pdf(), to_number=None), 422),
    ("to_number with a NUL", lambda h: h.received(make_pdf(), to_number="+1312\x005550104"),
     422),
    ("to_number 10,000 characters long", lambda h: h.received(make_pdf(), to_number="1" * 10_000),
     422),
    ("direction that is neither sent nor received",
     lambda h: _fields(h, '{"id": 900}', direction="sideways"), 400),
    ("received fax without its file part",
     lambda h: (h.received(make_pdf())[0], {}), 400),
]


@pytest.mark.parametrize(("case", "build", "status"), FAX_OBJECTS,
                         ids=[case for case, *_ in FAX_OBJECTS])
async def test_a_hostile_fax_object_is_refused_and_nothing_is_stored(
    webhook: Webhook, case: str,
    build: Callable[[Webhook], Callback], status: int,
) -> None:
    fields, files = build(webhook)
    answer = await post_form(webhook, fields, files)
    judge(Attempt(RULE, "anonymous", f"signed callback: {case}", status), answer)
    assert webhook.written() == (0, 0, 1)


# -- signed, and the document is hostile: refused by the sandbox ----------------------------

DOCUMENTS: list[tuple[str, Callable[[], bytes], int]] = [
    ("a 2^31 x 2^31 TIFF", documents.giant_tiff, 422),
    ("a TIFF with RowsPerStrip 0", documents.zero_rows_tiff, 422),
    ("a 2.8 MiB TIFF of 20,001 pages", documents.many_page_tiff, 422),
    ("a TIFF whose page chain loops", documents.looping_tiff, 422),
    ("a PDF page tree listing one page 200,000 times",
     lambda: documents.page_tree_bomb(200_000), 422),
    ("an 18 MiB PDF page tree bomb", documents.page_tree_bomb, 413),
    ("a PDF whose page tree contains itself", documents.page_tree_cycle, 422),
    ("a PDF drawing a 200,000 x 200,000 pixel image", documents.huge_image_pdf, 422),
    ("a PDF header and garbage", lambda: b"%PDF-1.7\n" + b"\x00" * 4096, 422),
    ("a decompression-bomb PNG", lambda: documents.png_bomb(20_000), 415),
    ("a TIFF header and nothing else", lambda: b"II*\x00\xff\xff\xff\x7f", 422),
]


@pytest.mark.parametrize(("case", "content", "status"), DOCUMENTS,
                         ids=[case for case, *_ in DOCUMENTS])
async def test_a_hostile_document_is_refused_by_the_sandbox_and_not_stored(
    webhook: Webhook, case: str, content: Callable[[], bytes], status: int
) -> None:
    fields, files = webhook.received(content())
    answer = await post_form(webhook, fields, files)
    judge(Attempt(RULE, "anonymous", f"signed received fax: {case}", status), answer)
    assert webhook.written() == (0, 0, 1)


async def test_a_valid_fax_is_still_stored(webhook: Webhook) -> None:
    """The control: the same path takes a real 30-page PDF and a real one-page TIFF."""
    fields, files = webhook.received(make_pdf(30))
    assert await post_form(webhook, fields, files) == 200
    [record] = webhook.gateway.received_after(0)
    assert record.pages == 30
    assert webhook.written()[:2] == (1, 1)


# -- a flood of refused calls cannot grow the audit table without bound -------------------


@pytest.mark.parametrize("audit_rows_per_minute", [5])
async def test_a_flood_of_bad_calls_writes_a_bounded_number_of_audit_rows(
    webhook: Webhook,
) -> None:
    fields, files = webhook.received(make_pdf())
    body = multipart(fields, files)
    for _ in range(40):
        assert await raw_post(webhook.url, [MULTIPART], body) == 401
    assert webhook.written() == (0, 0, 5)
    webhook.clock.advance(timedelta(minutes=1))
    assert await raw_post(webhook.url, [MULTIPART], body) == 401
    with webhook.engine.connect() as conn:
        details = conn.execute(text(
            "SELECT details FROM audit_log WHERE action = 'fax.webhook.rejected' "
            "ORDER BY seq DESC LIMIT 1"
        )).scalar_one()
    assert json.loads(details) == {"suppressed_before": 35}
