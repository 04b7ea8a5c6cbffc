"""A keyed blind index: find a patient's referrals without decrypting the table.

    name "Maria Q. Testpatient", DOB 1957-03-14
        ──normalise──> "maria testpatient|1957-03-14"
        ──HMAC-SHA256(index key)──> hex digest stored in ``patient_index``

Names are folded to lower-case ASCII letters, initials and punctuation are
dropped and the remaining words sorted, so "TESTPATIENT, Maria" and
"Maria Q. Testpatient" meet; a different spelling does not (the index is
exact by design — it must not leak similarity). The key is derived with HKDF
from the PHI master key, so someone with the database alone cannot test
guesses of name and DOB against it. Changing the master key means
recomputing the index (the old digests stop matching).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from datetime import date

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"curbside:referral:patient-index:v1"


def derive_index_key(master_key: bytes) -> bytes:
    """The blind-index key, derived from (never equal to) the PHI master key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master_key)


def normalise_name(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = "".join(c if c.isalpha() else " " for c in folded).split()
    return " ".join(sorted(w for w in words if len(w) > 1))


def patient_index(key: bytes, name: str, date_of_birth: date) -> str:
    message = f"{normalise_name(name)}|{date_of_birth.isoformat()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
