"""Scenario: the bot process is killed mid-handler; every command still gets one reply."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest

from tests.support.matrix_testkit import PASSWORD, MatrixUser, bot_setup, wait_for

pytestmark = pytest.mark.homeserver

SCRIPT = Path(__file__).with_name("slow_bot_process.py")
REPO_ROOT = Path(__file__).resolve().parents[2]


async def start_bot_process(params_file: Path) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.matrix.slow_bot_process", str(params_file),
        stdout=asyncio.subprocess.PIPE, cwd=REPO_ROOT,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    assert line.startswith(b"ready "), line
    return process, line.split()[1].decode()


async def kill(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def test_sigkill_mid_handler_then_restart_gives_exactly_one_reply_each(
    homeserver, tmp_path, unique
):
    alice = await MatrixUser.create(homeserver, f"alice{unique}")
    setup = await bot_setup(homeserver, tmp_path, f"slowbot{unique}")
    markers = tmp_path / "markers"
    markers.mkdir()
    params = tmp_path / "params.json"
    params.write_text(json.dumps({
        "url": homeserver.url, "store_dir": str(setup.config.store_dir), "db_url": setup.db_url,
        "master_key": setup.master_key, "pickle_key": setup.config.pickle_key,
        "user_id": setup.account.user_id, "password": PASSWORD,
        "marker_dir": str(markers), "seconds": "2",
    }))
    bot_id = setup.account.user_id
    process, device_id = await start_bot_process(params)
    try:
        room_id = await alice.create_encrypted_room([bot_id])
        await alice.wait_joined(room_id, bot_id, device_id)
        commands = {label: await alice.send(room_id, f"!slow {label}") for label in "abc"}

        await wait_for(lambda: (markers / "a.0").exists(), what="handler a to start")
        await kill(process)  # in the middle of handler a
        process, restored = await start_bot_process(params)
        assert restored == device_id

        await wait_for(lambda: (markers / "b.0").exists(), what="handler b to start")
        await kill(process)  # in the middle of handler b; a's reply may or may not be out
        process, _ = await start_bot_process(params)

        for label, event_id in commands.items():
            await wait_for(lambda e=event_id: alice.replies_to(e, bot_id), timeout=60,
                           what=f"reply to !slow {label}")
        ping = await alice.send(room_id, "!ping")
        await wait_for(lambda: alice.replies_to(ping, bot_id), what="pong after the backlog")
    finally:
        if process.returncode is None:
            await kill(process)
        await alice.close()

    assert (markers / "a.1").exists(), "handler a was really interrupted and run again"
    for label, event_id in commands.items():
        replies = [r.body for r in alice.replies_to(event_id, bot_id)]
        assert replies == [f"done {label}"], (label, replies)
