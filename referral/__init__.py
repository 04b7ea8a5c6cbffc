"""Referral cases: state machine, PDF packets, delivery, FHIR export, disclosures.

Imports only ``curbside``. Bots and the fax gateway call the service functions
in :mod:`referral.cases` and :mod:`referral.delivery`; the Alembic versions in
:data:`MIGRATIONS` must be listed by whoever runs the migrations (the desk
bot's ``migrations_location``).
"""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
