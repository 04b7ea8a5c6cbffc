"""Referral documents: letter, fax cover sheet, and the merged packet.

Every renderer here is a pure function of a :class:`ReferralDocument`, so the
same referral always yields the same bytes and tests need no database.
"""
