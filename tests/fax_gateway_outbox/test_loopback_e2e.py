"""A coordinator faxes a 3-page referral to a practice over the loopback line.

The PDF is rendered to TIFF-F, carried by a real T.30 session between two
spandsp terminals, and arrives in the inbox as if a fax had come in on the
practice's number: routed to the clinician who owns that number, 3 pages.
"""

from __future__ import annotations

import io

import pikepdf
from sqlalchemy import Engine, select

from curbside.database import session_scope
from fax_gateway.gateway import FaxSettings
from fax_gateway.models import FaxInbound
from fax_gateway.routing import Owner, OwnerKind
from fax_gateway.status import JobState
from tests.support.documents import make_pdf

from .conftest import GatewayFactory

CARDIOLOGY = "+13125550108"
DR_OKAFOR = "@okafor:curbside.test"


async def test_three_pages_arrive_with_the_owner_of_the_called_number(
    make_gateway: GatewayFactory, engine: Engine, key: str
) -> None:
    settings = FaxSettings.model_validate(
        {"routes": [{"number": CARDIOLOGY, "owner_kind": "matrix_user", "owner_id": DR_OKAFOR}]}
    )
    gateway = make_gateway(settings)
    inbound = gateway.subscribe_inbound()
    job = gateway.submit(make_pdf(pages=3), CARDIOLOGY, idempotency_key=key, actor="@coord:test")
    assert await gateway.worker("w-loop").run_once() == 1

    view = gateway.job(job.id)
    assert (view.state, view.pages, view.attempts) == (JobState.DELIVERED, 3, 1)
    record = inbound.get_nowait()
    assert record.owner == Owner(OwnerKind.MATRIX_USER, DR_OKAFOR)
    assert (record.transport, record.provider_fax_id, record.pages) == (
        "loopback",
        view.provider_id,
        3,
    )
    assert gateway.received_after(0) == [record]
    with session_scope(engine) as session:
        row = session.scalars(select(FaxInbound)).one()
        assert row.to_number == CARDIOLOGY
        assert row.original_ref is not None  # the TIFF as received is kept too
    pdf = gateway.inbox.document(record.id, actor=DR_OKAFOR, reason="treatment")
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert len(document.pages) == 3
