"""Matrix signed JSON: canonical encoding, unpadded base64 and Ed25519 signatures.

Matrix signs JSON objects, not bytes. The bytes signed are the object's
canonical JSON (sorted keys, no insignificant whitespace, UTF-8) after the
``signatures`` and ``unsigned`` members are removed; the signature is then
stored back into the object under ``signatures[<user id>][<key id>]``, beside
any signatures already there. Keys and signatures travel as base64 without
``=`` padding. Getting any of these details wrong yields a signature that every
other client silently rejects, so they live here once, with no I/O.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Mapping
from typing import Any

from canonicaljson import encode_canonical_json
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

JsonDict = dict[str, Any]

_UNSIGNED_MEMBERS = ("signatures", "unsigned")


def encode_unpadded_base64(data: bytes) -> str:
    """Standard base64 without trailing ``=``, as Matrix writes keys and signatures."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def decode_unpadded_base64(text: str) -> bytes:
    """Decode base64 whether or not it carries padding; raise ValueError if malformed."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not valid base64: {exc}") from exc


def ed25519_public_key(private_key: Ed25519PrivateKey) -> str:
    """The unpadded-base64 raw public key, the form Matrix puts in ``keys``."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return encode_unpadded_base64(raw)


def signable_bytes(obj: Mapping[str, Any]) -> bytes:
    """The exact bytes a Matrix signature covers: canonical JSON minus signatures/unsigned."""
    stripped = {k: v for k, v in obj.items() if k not in _UNSIGNED_MEMBERS}
    return bytes(encode_canonical_json(stripped))


def sign_json(
    obj: Mapping[str, Any], private_key: Ed25519PrivateKey, user_id: str, key_id: str
) -> JsonDict:
    """Return a copy of ``obj`` with one more signature; existing ones are kept.

    Keeping the existing signatures matters: a device key object re-uploaded
    with a cross-signing signature must still carry the device's own signature.
    """
    signature = encode_unpadded_base64(private_key.sign(signable_bytes(obj)))
    signed = copy.deepcopy(dict(obj))
    signed.pop("unsigned", None)
    signed.setdefault("signatures", {}).setdefault(user_id, {})[key_id] = signature
    return signed


def verify_json(obj: Mapping[str, Any], user_id: str, key_id: str, public_key: str) -> bool:
    """True if ``obj`` carries a valid signature by ``public_key`` under ``user_id``/``key_id``."""
    signature = obj.get("signatures", {}).get(user_id, {}).get(key_id)
    if not isinstance(signature, str):
        return False
    try:
        verifier = Ed25519PublicKey.from_public_bytes(decode_unpadded_base64(public_key))
        verifier.verify(decode_unpadded_base64(signature), signable_bytes(obj))
    except (ValueError, InvalidSignature):
        return False
    return True
