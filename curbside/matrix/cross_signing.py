"""Cross-signing for Curbside's own Matrix devices (bots and bridge puppets).

Why this exists: current Element (matrix-rust-sdk, "exclude insecure devices")
shares room keys only with devices their owner has cross-signed, and
matrix-nio 0.26 has no cross-signing at all. Each bot account and each bridge
puppet therefore owns a cross-signing identity (three Ed25519 seeds the caller
keeps encrypted at rest) and signs every device it logs in with it.

Which key signs what::

    master ──signs──> self_signing ──signs──> each device's key object
       └───signs──> user_signing   (signs other users' master keys; unused here)
    device key ──signs──> master   (optional; Element does it too)

What :func:`ensure_cross_signed` does, each step skipped when already true::

    keys/upload (nio)             the server must hold this device's keys first
    POST keys/query (own user)    what is published now
    keys/device_signing/upload    publish the three keys; no auth the first time
                                  (MSC3967), UIA m.login.password to replace a
                                  different identity -- only with a password
    keys/signatures/upload        self_signing signs the device, the device
                                  signs the master key

Every request is idempotent on the server, so a crash between steps is
repaired by the next call.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

import nio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from curbside.matrix.canonical import (
    JsonDict,
    ed25519_public_key,
    sign_json,
    signable_bytes,
    verify_json,
)

__all__ = [
    "CrossSigningError",
    "CrossSigningKeyMismatch",
    "CrossSigningSeeds",
    "CrossSigningStatus",
    "Usage",
    "ensure_cross_signed",
]

_KEYS_QUERY = "/_matrix/client/v3/keys/query"
_DEVICE_SIGNING_UPLOAD = "/_matrix/client/v3/keys/device_signing/upload"
_SIGNATURES_UPLOAD = "/_matrix/client/v3/keys/signatures/upload"

# The three cross-signing usages. The upload body names each "<usage>_key" and
# the keys/query response "<usage>_keys", so one tuple drives both.
Usage = Literal["master", "self_signing", "user_signing"]
_USAGES: tuple[Usage, ...] = ("master", "self_signing", "user_signing")

_SEED_LENGTH = 32
_SERIAL_FORMAT = b"\x01"  # first byte of to_bytes(), so the layout can evolve


class CrossSigningError(Exception):
    """The homeserver refused a cross-signing step, or answered something unusable."""


class CrossSigningKeyMismatch(CrossSigningError):
    """The account already has a different cross-signing identity on the server."""


@dataclass(frozen=True)
class CrossSigningSeeds:
    """The private halves of one account's cross-signing keys: 32-byte Ed25519 seeds.

    Seeds are secrets: they are kept out of ``repr`` so they cannot reach a log
    through an f-string or a traceback.
    """

    master: bytes = field(repr=False)
    self_signing: bytes = field(repr=False)
    user_signing: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for usage in _USAGES:
            seed = getattr(self, usage)
            if not isinstance(seed, bytes) or len(seed) != _SEED_LENGTH:
                raise ValueError(f"{usage} seed must be {_SEED_LENGTH} bytes")

    @classmethod
    def generate(cls) -> CrossSigningSeeds:
        """Fresh random seeds for a new identity."""
        return cls(*(secrets.token_bytes(_SEED_LENGTH) for _ in _USAGES))

    def to_bytes(self) -> bytes:
        """Compact form for the caller to encrypt and store: a format byte, then the seeds."""
        return _SERIAL_FORMAT + self.master + self.self_signing + self.user_signing

    @classmethod
    def from_bytes(cls, data: bytes) -> CrossSigningSeeds:
        """Inverse of :meth:`to_bytes`; raises ValueError on anything else."""
        if len(data) != 1 + 3 * _SEED_LENGTH or data[:1] != _SERIAL_FORMAT:
            raise ValueError("not a serialised CrossSigningSeeds value")
        seeds = data[1:]
        return cls(*(seeds[i : i + _SEED_LENGTH] for i in range(0, len(seeds), _SEED_LENGTH)))

    @property
    def master_public_key(self) -> str:
        """Unpadded-base64 public master key (the account's identity others verify)."""
        return ed25519_public_key(self.private_key("master"))

    @property
    def self_signing_public_key(self) -> str:
        """Unpadded-base64 public self-signing key (signs this account's devices)."""
        return ed25519_public_key(self.private_key("self_signing"))

    @property
    def user_signing_public_key(self) -> str:
        """Unpadded-base64 public user-signing key (signs other users' master keys)."""
        return ed25519_public_key(self.private_key("user_signing"))

    def private_key(self, usage: Usage) -> Ed25519PrivateKey:
        """The signing key for one usage (e.g. user_signing, to verify another user)."""
        seed: bytes = getattr(self, usage)
        return Ed25519PrivateKey.from_private_bytes(seed)


@dataclass(frozen=True)
class CrossSigningStatus:
    """What :func:`ensure_cross_signed` found and did (all public data, safe to log)."""

    user_id: str
    device_id: str
    master_key: str
    keys_uploaded: bool
    """This call published the three keys (first time, or replacing another identity)."""
    replaced_identity: bool
    """The server held a different identity before this call, now replaced."""
    device_signed: bool
    """This call uploaded the self-signing signature of the device."""


def _key_id(public_key: str) -> str:
    """Matrix key id of a cross-signing key: ``ed25519:<unpadded base64 public key>``."""
    return f"ed25519:{public_key}"


def _key_objects(seeds: CrossSigningSeeds, user_id: str) -> dict[str, JsonDict]:
    """The three public key objects, by usage, as device_signing/upload takes them.

    The master key is published unsigned; self_signing and user_signing carry
    the master key's signature, which is what ties them to the identity.
    """
    master_id = _key_id(seeds.master_public_key)
    objects: dict[str, JsonDict] = {}
    for usage in _USAGES:
        public = ed25519_public_key(seeds.private_key(usage))
        obj: JsonDict = {"user_id": user_id, "usage": [usage], "keys": {_key_id(public): public}}
        if usage != "master":
            obj = sign_json(obj, seeds.private_key("master"), user_id, master_id)
        objects[usage] = obj
    return objects


@dataclass(frozen=True)
class _Published:
    """The account's cross-signing keys (by usage) and this device, as the server has them."""

    keys: dict[str, JsonDict]
    device: JsonDict | None


async def ensure_cross_signed(
    client: nio.AsyncClient, seeds: CrossSigningSeeds, *, password: str | None
) -> CrossSigningStatus:
    """Publish ``seeds`` as the account's identity if needed and cross-sign this device.

    Call after login (password or ``m.login.application_service``) with an
    encryption store loaded. Safe to call on every start: each step runs only
    when the server lacks its result. ``password`` is needed only to replace
    a *different* identity already on the server; without one that case
    raises :class:`CrossSigningKeyMismatch` and changes nothing.
    """
    user_id, device_id = _logged_in_ids(client)
    if client.should_upload_keys:
        response = await client.keys_upload()
        if isinstance(response, nio.KeysUploadError):
            raise CrossSigningError(f"device key upload failed: {response.message}")

    wanted = _key_objects(seeds, user_id)
    published = await _query_own_keys(client, user_id, device_id)
    differing = [
        usage
        for usage in _USAGES
        if _public_key(published.keys.get(usage)) != _public_key(wanted[usage])
    ]
    replaced = any(usage in published.keys for usage in differing)
    if replaced and password is None:
        raise CrossSigningKeyMismatch(
            f"{user_id} already has a different cross-signing identity "
            f"(published master key {_public_key(published.keys.get('master'))}, "
            f"ours {seeds.master_public_key}; differing: {', '.join(differing)}). "
            "Restore the stored seeds for this account, or pass the account password "
            "to replace the published identity."
        )
    if differing:
        await _upload_signing_keys(client, user_id, wanted, password)
        published = await _query_own_keys(client, user_id, device_id)

    device = published.device
    if device is None:
        raise CrossSigningError(
            f"the homeserver has no keys for device {device_id}; was it deleted?"
        )
    _check_device_is_ours(client, user_id, device_id, device)
    signatures = _missing_signatures(client, seeds, user_id, device_id, published, wanted)
    if signatures:
        await _upload_signatures(client, {user_id: signatures})
    return CrossSigningStatus(
        user_id=user_id,
        device_id=device_id,
        master_key=seeds.master_public_key,
        keys_uploaded=bool(differing),
        replaced_identity=replaced,
        device_signed=device_id in signatures,
    )


def _logged_in_ids(client: nio.AsyncClient) -> tuple[str, str]:
    if not client.access_token or not client.user_id or not client.device_id:
        raise CrossSigningError("the client must be logged in before cross-signing")
    if client.olm is None:
        raise CrossSigningError(
            "the client has no Olm account; give AsyncClient a store_path and log in first"
        )
    return str(client.user_id), str(client.device_id)


def _public_key(key_object: JsonDict | None) -> str | None:
    """The one public key a cross-signing key object holds, or None."""
    if not key_object:
        return None
    values = list(key_object.get("keys", {}).values())
    return values[0] if len(values) == 1 and isinstance(values[0], str) else None


def _check_device_is_ours(
    client: nio.AsyncClient, user_id: str, device_id: str, device: JsonDict
) -> None:
    """Refuse to vouch for a device object this device's Olm account did not sign.

    The self-signing signature tells every other client "this is really me";
    it must only ever cover the identity keys that live in our own store.
    """
    identity = client.olm.account.identity_keys
    ed25519_id = f"ed25519:{device_id}"
    expected_keys = {
        ed25519_id: identity["ed25519"],
        f"curve25519:{device_id}": identity["curve25519"],
    }
    if (
        device.get("user_id") != user_id
        or device.get("device_id") != device_id
        or device.get("keys") != expected_keys
        or not verify_json(device, user_id, ed25519_id, identity["ed25519"])
    ):
        raise CrossSigningError(
            f"the homeserver's copy of device {device_id} does not match this "
            "device's Olm account; refusing to cross-sign it"
        )


def _missing_signatures(
    client: nio.AsyncClient,
    seeds: CrossSigningSeeds,
    user_id: str,
    device_id: str,
    published: _Published,
    wanted: dict[str, JsonDict],
) -> dict[str, JsonDict]:
    """The keys/signatures/upload entries (by device id or master key) still needed."""
    signatures: dict[str, JsonDict] = {}
    device = published.device or {}
    self_signing_id = _key_id(seeds.self_signing_public_key)
    if self_signing_id not in device.get("signatures", {}).get(user_id, {}):
        signatures[device_id] = sign_json(
            device, seeds.private_key("self_signing"), user_id, self_signing_id
        )
    device_key_id = f"ed25519:{device_id}"
    master_signers = published.keys.get("master", {}).get("signatures", {}).get(user_id, {})
    if device_key_id not in master_signers:
        master = wanted["master"]
        signature = client.olm.account.sign(signable_bytes(master).decode("utf-8"))
        signatures[seeds.master_public_key] = {
            **master,
            "signatures": {user_id: {device_key_id: signature}},
        }
    return signatures


async def _query_own_keys(client: nio.AsyncClient, user_id: str, device_id: str) -> _Published:
    status, body = await _request(client, _KEYS_QUERY, {"device_keys": {user_id: []}})
    _raise_for_status(status, body, "keys/query")
    keys: dict[str, JsonDict] = {
        usage: body[f"{usage}_keys"][user_id]
        for usage in _USAGES
        if user_id in body.get(f"{usage}_keys", {})
    }
    device = body.get("device_keys", {}).get(user_id, {}).get(device_id)
    return _Published(keys=keys, device=device)


async def _upload_signing_keys(
    client: nio.AsyncClient, user_id: str, wanted: dict[str, JsonDict], password: str | None
) -> None:
    """POST the three keys; answer a user-interactive-auth challenge with the password."""
    body: JsonDict = {f"{usage}_key": wanted[usage] for usage in _USAGES}
    status, answer = await _request(client, _DEVICE_SIGNING_UPLOAD, body)
    if status == 401 and "flows" in answer:
        if password is None:
            raise CrossSigningError(
                "the homeserver requires user-interactive auth to publish cross-signing "
                "keys; pass the account password"
            )
        if not any(flow.get("stages") == ["m.login.password"] for flow in answer["flows"]):
            raise CrossSigningError(
                "the homeserver offers no m.login.password auth flow for publishing "
                "cross-signing keys"
            )
        body["auth"] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user_id},
            "password": password,
            "session": answer.get("session"),
        }
        status, answer = await _request(client, _DEVICE_SIGNING_UPLOAD, body)
    _raise_for_status(status, answer, "keys/device_signing/upload")


async def _upload_signatures(client: nio.AsyncClient, signatures: JsonDict) -> None:
    status, answer = await _request(client, _SIGNATURES_UPLOAD, signatures)
    _raise_for_status(status, answer, "keys/signatures/upload")
    # The server answers 200 even when it rejects individual signatures.
    if answer.get("failures"):
        raise CrossSigningError(f"keys/signatures/upload rejected: {answer['failures']}")


async def _request(client: nio.AsyncClient, path: str, body: JsonDict) -> tuple[int, JsonDict]:
    """POST JSON through nio's HTTP session with the client's access token."""
    response = await client.send(
        "POST",
        path,
        json.dumps(body),
        headers={
            "Authorization": f"Bearer {client.access_token}",
            "Content-Type": "application/json",
        },
    )
    try:
        payload: Any = await response.json(content_type=None)
    except ValueError:
        payload = None
    finally:
        response.release()
    return response.status, payload if isinstance(payload, dict) else {}


def _raise_for_status(status: int, body: JsonDict, what: str) -> None:
    if status != 200:
        reason = f"{body.get('errcode', '')} {body.get('error', '')}".strip()
        raise CrossSigningError(f"{what} failed: HTTP {status} {reason}".rstrip())
