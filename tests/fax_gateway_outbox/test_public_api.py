"""What a consumer such as the fax bridge gets from the package, and nothing more:
a received fax's envelope and audited document, and the owner of a number, whose
change is audited before it takes effect and names the number only by its hash."""

from __future__ import annotations

import json

from sqlalchemy import Engine, select

from curbside.audit import AuditEntry
from curbside.database import session_scope
from fax_gateway import InboundEnvelope, Owner, OwnerKind
from fax_gateway.transports.base import ContentKind, ReceivedFax
from tests.support.documents import make_pdf

from .conftest import GatewayFactory

OFFICE = "+13125550108"
CALLER = "+13125550101"
DR_LEE = "@lee:curbside.test"


def _audited(engine: Engine, action: str) -> list[AuditEntry]:
    with session_scope(engine) as session:
        return list(session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)))


async def test_a_received_fax_is_read_through_its_envelope_and_an_audited_document(
    make_gateway: GatewayFactory, engine: Engine
) -> None:
    gateway = make_gateway()
    pdf = make_pdf(pages=2)
    assert await gateway.fax_received(ReceivedFax(
        transport="loopback", provider_fax_id="p-1", from_number=CALLER, to_number=OFFICE,
        content=pdf, kind=ContentKind.PDF,
    ))
    [record] = gateway.received_after(0)
    envelope = gateway.inbound_envelope(record.id)
    assert envelope == InboundEnvelope(record.id, CALLER, OFFICE, 2, record.received_at)
    assert _audited(engine, "fax.inbound.read") == []  # the envelope is not the document
    assert gateway.inbound_document(record.id, actor=DR_LEE, reason="deliver") == pdf
    [read] = _audited(engine, "fax.inbound.read")
    assert (read.actor, read.record_id) == (DR_LEE, record.id)


def test_a_number_has_no_owner_until_assigned_and_every_assignment_is_audited(
    make_gateway: GatewayFactory, engine: Engine
) -> None:
    gateway = make_gateway()
    assert gateway.owner_of(OFFICE) is None  # the default owner is nobody's assignment
    lee = Owner(OwnerKind.MATRIX_USER, DR_LEE)
    gateway.assign_route(OFFICE, lee, actor=DR_LEE, reason="!fax assign",
                         details={"from_room": "!dm:curbside.test"})
    assert gateway.owner_of("+1 312 555 0108") == lee
    [entry] = _audited(engine, "fax.route.assign")
    assert (entry.actor, entry.record_id) == (DR_LEE, gateway.number_key(OFFICE))
    assert json.loads(entry.details) == {"from_room": "!dm:curbside.test"}
    assert OFFICE[1:] not in entry.record_id + entry.details
