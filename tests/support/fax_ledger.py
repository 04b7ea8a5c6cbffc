"""No fax vanishes: every received fax is accounted for by a consumer.

Scenario worlds call :func:`no_fax_vanished` when a test ends well: each fax
the world's consumers are responsible for (by owner kind) must have an entry
in the gateway's disposition ledger — delivered, held, consumed or handed to
the operator fax inbox. It waits for the feeds to catch up, as a person
waits for a message.
"""

from __future__ import annotations

from collections.abc import Collection

from fax_gateway import Gateway, OwnerKind
from tests.support.matrix_testkit import wait_for


def unaccounted(gateway: Gateway, kinds: Collection[OwnerKind]) -> list[str]:
    """Received faxes for owners of ``kinds`` that no consumer disposed of."""
    undisposed = set(gateway.undisposed(limit=10_000))
    return [r.id for r in gateway.received_after(0, limit=10_000)
            if r.owner.kind in kinds and r.id in undisposed]


async def no_fax_vanished(gateway: Gateway, kinds: Collection[OwnerKind]) -> None:
    await wait_for(lambda: not unaccounted(gateway, kinds), timeout=60,
                   what="every received fax to be delivered, held, consumed or handed over")
