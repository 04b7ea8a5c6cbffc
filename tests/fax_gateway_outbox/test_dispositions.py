"""The ledger of received faxes: once per kind, in feed order, counted (both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from curbside.audit import AuditEntry
from curbside.database import session_scope
from fax_gateway import Disposition
from fax_gateway.transports.base import ContentKind, ReceivedFax
from tests.support.documents import make_pdf

from .conftest import GatewayFactory

OFFICE = "+13125550145"


async def test_each_fax_is_accounted_for_once_per_kind(
    make_gateway: GatewayFactory, engine: Engine
) -> None:
    gateway = make_gateway()
    for fax_id in ("p-1", "p-2"):
        await gateway.fax_received(ReceivedFax(
            transport="loopback", provider_fax_id=fax_id, from_number=None, to_number=OFFICE,
            content=make_pdf(1), kind=ContentKind.PDF))
    first, second = (r.id for r in gateway.received_after(0))
    assert gateway.undisposed() == [first, second]

    assert gateway.dispose(first, Disposition.HELD, actor="bridge", reason="held")
    assert not gateway.dispose(first, Disposition.HELD, actor="bridge", reason="again")
    assert gateway.dispose(first, Disposition.DELIVERED, actor="bridge", reason="released")
    with session_scope(engine) as session:  # in the caller's transaction
        assert gateway.dispose(second, Disposition.OPERATOR, actor="desk", reason="unowned",
                               session=session)
    assert gateway.undisposed() == []

    entries = gateway.dispositions_after(0)
    assert [(e.inbound_id, e.disposition) for e in entries] == [
        (first, Disposition.HELD), (first, Disposition.DELIVERED),
        (second, Disposition.OPERATOR)]
    assert [e.seq for e in entries] == [1, 2, 3]
    assert gateway.dispositions_after(entries[1].seq) == entries[2:]
    assert gateway.disposition_counts() == {
        Disposition.HELD: 1, Disposition.DELIVERED: 1, Disposition.OPERATOR: 1}
    with session_scope(engine) as session:
        actions = session.scalars(select(AuditEntry.action).where(
            AuditEntry.action == "fax.inbound.disposed")).all()
    assert len(actions) == 3


def test_an_unknown_fax_cannot_be_disposed_of(make_gateway: GatewayFactory) -> None:
    with pytest.raises(KeyError):
        make_gateway().dispose("nope", Disposition.OPERATOR, actor="x", reason="y")
