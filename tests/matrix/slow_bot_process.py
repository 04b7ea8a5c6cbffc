"""A bot process for the crash test: ``python slow_bot_process.py PARAMS.json``.

Its ``!slow LABEL`` handler notes that it started (a file per start in the
marker folder), sleeps, then replies — so the test can SIGKILL the process in
the middle of a handler. Prints ``ready`` once the bot has started.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from curbside.matrix.bot import Bot
from curbside.matrix.commands import Arg, command
from curbside.matrix.config import BotAccount
from curbside.matrix.context import Context
from tests.support.matrix_testkit import runtime_config


class SlowBot(Bot):
    marker_dir: Path
    seconds: float

    @command("slow", help="take a while, then answer", args=[Arg("label")])
    async def slow(self, ctx: Context, label: str) -> None:
        starts = len(list(self.marker_dir.glob(f"{label}.*")))
        (self.marker_dir / f"{label}.{starts}").touch()
        await asyncio.sleep(self.seconds)
        ctx.reply(f"done {label}")


async def main(params: dict[str, str]) -> None:
    config = runtime_config(
        params["url"], Path(params["store_dir"]), params["db_url"], params["master_key"],
        pickle_key=params["pickle_key"],
    )
    bot = SlowBot(BotAccount(params["user_id"], params["password"], "Slow bot"), config)
    bot.marker_dir = Path(params["marker_dir"])
    bot.seconds = float(params["seconds"])
    await bot.start()
    print("ready", bot.client.device_id, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
