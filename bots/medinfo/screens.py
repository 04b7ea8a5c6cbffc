"""The one place the medinfo desk calls the pharmacovigilance screen.

Every clinician message the desk screens — in a request's thread, and in a
sponsored room (:mod:`curbside.matrix.screen_step`) — goes through
:func:`adverse_events`, so pointing the desk at another screen is one edit here.
"""

from __future__ import annotations

from screening import decision

Screening = decision.Screening


def adverse_events(text: str, *, names_product: bool) -> Screening:
    """Adverse events, complaints and special situations in ``text`` (:mod:`screening.decision`)."""
    return decision.screen(text, names_product=names_product)
