"""Which devices a bot encrypts to, and which it refuses.

Policy (trust on first use, recorded):

* A bot encrypts room keys to **every current device of every joined member**
  of a room, verified or not. Clinicians do not verify bot devices one by one,
  and a bot that refused unverified devices would simply be silent; so sends
  use ``ignore_unverified_devices=True`` and nio treats those devices as
  "ignored" (shared with, not marked verified).
* The first keys seen for a ``(user, device id)`` are **recorded** in
  ``matrix_devices``. That record is the identity the bot trusts from then on.
* If a known device id later shows **different keys**, the device is
  **blacklisted**: it gets no room keys, and the record says so. Device ids are
  not reused by honest clients, so changed keys mean a compromised or
  impersonating device. (nio already ignores a changed Ed25519 key; this also
  catches a changed Curve25519 key and makes the refusal durable and visible.)
* A **new device** of a known user (a new phone, a re-login) is a new identity
  under the same account: it is recorded and trusted on first use like any
  other; membership of the room is what authorises it, and the homeserver
  module keeps membership to verified clinicians.
* Messages a bot *receives* are accepted from any member device; an event
  keeps ``encrypted=True`` so handlers can insist on E2EE for PHI.
"""

from __future__ import annotations

import logging

import nio
from sqlalchemy import Engine

from curbside.database import session_scope
from curbside.matrix.storage import RuntimeStore

log = logging.getLogger(__name__)

# Sends pass this to nio: unverified (TOFU) devices receive keys, see above.
IGNORE_UNVERIFIED_DEVICES = True


class DeviceTrust:
    """Applies the policy above after every device-key query."""

    def __init__(self, client: nio.AsyncClient, engine: Engine, store: RuntimeStore) -> None:
        self._client = client
        self._engine = engine
        self._store = store

    def review(self, user_ids: list[str]) -> None:
        """Record devices seen for the first time; blacklist those whose keys changed.

        Called with the users of every device-key query the runtime makes, and
        before each send, so no room key goes to a device this has not seen.
        """
        if not user_ids or self._client.olm is None:
            return
        device_store = self._client.device_store
        with session_scope(self._engine) as session:
            known = self._store.device_records(session, user_ids)
            for user_id in user_ids:
                for device in device_store.active_user_devices(user_id):
                    if device.id == self._client.device_id and user_id == self._client.user_id:
                        continue
                    record = known.get((user_id, device.id))
                    if record is None:
                        self._store.record_device(
                            session, user_id, device.id, device.ed25519, device.curve25519
                        )
                        continue
                    changed = (record.ed25519, record.curve25519) != (
                        device.ed25519,
                        device.curve25519,
                    )
                    if (changed or record.blacklisted) and not device.blacklisted:
                        self._client.blacklist_device(device)
                        if not record.blacklisted:
                            record.blacklisted = True
                            log.warning(
                                "keys of device %s of %s changed; blacklisted", device.id, user_id
                            )
