"""The medical-information bot in its own process, for the crash scenario to SIGKILL.

Usage: ``python -m tests.crash.medinfo_process PARAMS.json``. Runs the
production bot on the database the test prepared (sponsors imported, the
clinician's credential in) and arms the kill points named in ``pauses``:

    routed-uncommitted  the clinician's confirming message was handled — the
                        request routed, its thread root and the clinician's
                        confirmation queued — before the handler's commit
    root-sent           the homeserver accepted the thread root in the MSL
                        room; the outbox row is not marked sent (so the desk
                        does not yet know the root's event id)

Prints ``ready <device id>`` once the bot has started.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bots.medinfo.bot import MedinfoBot
from bots.medinfo.models import RequestRow
from bots.medinfo.states import State
from curbside.matrix.config import BotAccount
from curbside.matrix.context import Context
from tests.crash.inside import Pauses, body_of, pauses, runtime_config

ROOT_TEXT = "Medical information request"


def arm(pauses: Pauses, msl_room: str) -> None:
    def routed_here(_bot: MedinfoBot, ctx: Context) -> bool:
        return any(isinstance(row, RequestRow) and row.state == State.ROUTED.value
                   for row in ctx.session)

    pauses.after(MedinfoBot, "message", "routed-uncommitted", routed_here)
    pauses.before_mark_sent("root-sent", lambda item: item.room_id == msl_room
                            and body_of(item).startswith(ROOT_TEXT))


async def main(params: dict[str, Any]) -> None:
    config = runtime_config(params)
    arm(pauses(params), params["msl_room"])
    bot = MedinfoBot(BotAccount(params["user_id"], params["password"], "Medical information"),
                     config, audit_key=bytes.fromhex(params["audit_key"]))
    await bot.start()
    print("ready", bot.client.device_id, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
