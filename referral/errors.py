"""Errors the referral API raises; each message can be shown to a person as is."""

from __future__ import annotations

from referral.states import TransitionError
from referral.validation import FieldError, ReferralInvalid


class ReferralError(Exception):
    """Base for referral errors other than validation and state-machine refusals."""


class ReferralNotFound(ReferralError):
    pass


class NotVerified(ReferralError):
    """The referrer or a Matrix recipient is not a verified clinician or room."""


class PacketMismatch(ReferralError):
    """The packet rendered now is not the one whose hash was stored when it was sent."""


class DeliveryRefused(ReferralError):
    """The referral is not in a state in which it may be delivered."""


__all__ = [
    "DeliveryRefused",
    "FieldError",
    "NotVerified",
    "PacketMismatch",
    "ReferralError",
    "ReferralInvalid",
    "ReferralNotFound",
    "TransitionError",
]
