"""The medical-information bot: routes clinicians' questions to sponsors' MSL teams."""

from __future__ import annotations

from curbside.matrix.bot import Bot


class MedinfoBot(Bot):
    """The MSL consult desk's Matrix presence; intake commands are declared here."""
