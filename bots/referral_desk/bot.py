"""The referral desk: builds referral packets in threads and tracks them to a closed loop."""

from __future__ import annotations

from curbside.matrix.bot import Bot


class ReferralDeskBot(Bot):
    """The desk's Matrix presence; referral commands are declared here."""
