"""The fax bridge in its own process, for the crash scenario to SIGKILL.

Usage: ``python -m tests.crash.bridge_process PARAMS.json``. Runs the
production :class:`bridge.bridge.Bridge` (appservice server, bridge bot,
puppets, relays) with the fax gateway on the database the test prepared,
and arms the kill points named in ``pauses``:

    fax-uploaded   a received fax's notice is built and its PDF uploaded
                   (encrypted) for the portal, before the transaction that
                   queues both with the inbound feed's cursor
    fax-file-sent  the homeserver accepted the fax's m.file; the puppet's
                   outbox row is not marked sent

The gateway's worker does not run here: the test runs it. Prints ``ready``
once the bridge has started.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bridge.bridge import Bridge
from bridge.config import BridgeConfig
from bridge.portal import Portal
from curbside.audit import AuditLog
from fax_gateway import FaxSettings, derive_pepper, open_gateway
from tests.crash.inside import Pauses, pauses, runtime_config


def arm(pauses: Pauses) -> None:
    pauses.after(Portal, "_fax_contents", "fax-uploaded")
    pauses.before_mark_sent("fax-file-sent", lambda item: item.content.get("msgtype") == "m.file")


async def main(params: dict[str, Any]) -> None:
    runtime = runtime_config(params)
    config = BridgeConfig(server_name=params["server_name"], sender_localpart="faxbridge",
                          as_token=params["as_token"], hs_token=params["hs_token"],
                          port=params["port"], runtime=runtime, feed_interval=0.2)
    audit_key = bytes.fromhex(params["audit_key"])
    gateway = open_gateway(FaxSettings(), engine=runtime.engine,
                           cipher=runtime.cipher,  # type: ignore[arg-type]
                           audit=AuditLog(audit_key), pepper=derive_pepper(audit_key),
                           documents_dir=Path(params["documents_dir"]))
    arm(pauses(params))
    await Bridge(config, gateway).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
