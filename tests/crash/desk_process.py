"""The referral desk in its own process, for the crash scenarios to SIGKILL.

Usage: ``python -m tests.crash.desk_process PARAMS.json``. Builds the desk as
the service does (the production bot, its delivery job and channels, the fax
gateway on the same database) and arms the kill points named in
``pauses``:

    packet-queued    the packet is in the outbox (committed, not sent), the
                     delivery attempt still pending
    packet-sent      the homeserver accepted the packet; not marked sent, the
                     ``referral-packet`` hook (delivered, recipient thread) not run
    verdict-recorded the fax feed recorded a "delivered" verdict and queued its
                     post, in the feed's transaction, before it commits
    verdict-posted   the homeserver accepted the "delivered by fax" post; not
                     marked sent

The gateway's worker does not run here: the test runs it (the fax side is not
what is killed). Prints ``ready <device id>`` once the desk has started.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bots.referral_desk.bot import ReferralDeskBot
from bots.referral_desk.matrix_channel import PACKET_SENT, MatrixChannel
from curbside.matrix.config import BotAccount
from fax_gateway import JobChange, JobState
from tests.crash.inside import Pauses, body_of, pauses, runtime_config
from tests.referral_desk.desk_world import DESK_CONFIG, prepare_database
from tests.support.matrix_testkit import BotSetup


def arm(pauses: Pauses) -> None:
    pauses.after(MatrixChannel, "deliver", "packet-queued")
    pauses.before_mark_sent("packet-sent",
                            lambda item: (item.sent_hook or "").startswith(f"{PACKET_SENT}:"))

    def delivered(_bot: object, _job: object, change: JobChange) -> bool:
        return change.state is JobState.DELIVERED

    pauses.after(ReferralDeskBot, "fax_verdict", "verdict-recorded", delivered)
    pauses.before_mark_sent("verdict-posted",
                            lambda item: "was delivered to" in body_of(item)
                            and "by fax" in body_of(item))


async def main(params: dict[str, Any]) -> None:
    config = runtime_config(params)
    account = BotAccount(params["user_id"], params["password"], "Referral desk")
    env, gateway = prepare_database(BotSetup(account, config, params["db_url"],
                                             params["master_key"]))
    arm(pauses(params))
    bot = ReferralDeskBot(account, config, env=env, settings=DESK_CONFIG, gateway=gateway)
    await bot.start()
    print("ready", bot.client.device_id, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
