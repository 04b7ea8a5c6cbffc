"""The one place the medinfo desk calls the adverse-event screen.

Every clinician message the desk screens — in a request's thread, and in a
sponsored room (:mod:`curbside.matrix.screen_step`) — goes through
:func:`adverse_events`, so pointing the desk at another screen is one edit here.
"""

from __future__ import annotations

from bots.medinfo import ae_screen

Screening = ae_screen.Screening


def adverse_events(text: str, *, names_product: bool) -> Screening:
    """Adverse events and product complaints in ``text`` (see :mod:`bots.medinfo.ae_screen`)."""
    return ae_screen.screen(text, names_product=names_product)
