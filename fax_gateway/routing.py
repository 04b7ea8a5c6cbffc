"""Who owns a fax number: the routing table for inbound faxes.

    called number ──keyed hash──> fax_routes row ──> Owner(kind, id)
                                  (no row)       ──> the configured default

Owners are a Matrix user, a practice room or the referral desk; the gateway
only records the owner, and the bridge or a bot (which poll or subscribe to
the inbox) deliver to it, so this module knows nothing about Matrix.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from curbside.database import session_scope
from fax_gateway.models import FaxRoute, number_hash
from fax_gateway.numbers import normalise_number


class OwnerKind(enum.StrEnum):
    MATRIX_USER = "matrix_user"
    ROOM = "room"
    REFERRAL_DESK = "referral_desk"


@dataclass(frozen=True, slots=True)
class Owner:
    kind: OwnerKind
    id: str


class Router:
    def __init__(self, engine: Engine, pepper: bytes, default: Owner) -> None:
        self._engine = engine
        self._pepper = pepper
        self.default = default

    def number_key(self, number: str) -> str:
        """The keyed hash that names ``number`` in routes and audit entries without PHI."""
        return number_hash(self._pepper, normalise_number(number))

    def set_route(self, number: str, owner: Owner) -> None:
        """Route faxes to ``number`` to ``owner`` (replacing any earlier route)."""
        number = normalise_number(number)
        key = self.number_key(number)
        with session_scope(self._engine) as session:
            route = session.get(FaxRoute, key)
            if route is None:
                session.add(
                    FaxRoute(
                        number_hash=key,
                        number=number,
                        owner_kind=owner.kind.value,
                        owner_id=owner.id,
                    )
                )
            else:
                route.owner_kind, route.owner_id = owner.kind.value, owner.id

    def owner_of(self, session: Session, number: str) -> Owner:
        """The owner of a called number, or the default for unknown numbers."""
        try:
            key = self.number_key(number)
        except ValueError:
            return self.default
        route = session.get(FaxRoute, key)
        if route is None:
            return self.default
        return Owner(OwnerKind(route.owner_kind), route.owner_id)
