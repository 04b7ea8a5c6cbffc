"""A referral desk running in its own process, with a coordinator and a cardiologist.

The test process holds the database (migrated here, credentials inserted as
the gatekeeper would), the fax gateway on the same database (whose worker
the fax scenario runs) and the people's E2EE clients; the desk itself runs
in :mod:`tests.crash.desk_process`, killed and restarted by the test.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curbside.database import session_scope
from fax_gateway import Gateway
from referral.cases import ReferralEnv
from tests.crash.processes import Component
from tests.referral_desk.desk_world import credential, in_thread, prepare_database
from tests.referral_desk.test_answers_and_refusals import pasted
from tests.support.matrix_testkit import PASSWORD, MatrixUser, Received, bot_setup, wait_for


@dataclass
class DeskScenario:
    desk: Component
    desk_id: str
    env: ReferralEnv
    gateway: Gateway
    engine: Any
    coordinator: MatrixUser
    cardiologist: MatrixUser
    room: str  # the coordinator's encrypted room with the desk

    async def ask(self, body: str, thread_root: str | None = None) -> str:
        """The coordinator says ``body``; the desk's (first) answer to it."""
        event_id = await self.coordinator.send(self.room, body, thread_root=thread_root)
        replies = await wait_for(lambda: self.coordinator.replies_to(event_id, self.desk_id),
                                 timeout=60, what=f"the desk's answer to {body[:30]!r}")
        return replies[0].body

    async def send_referral(self, recipient: str, name: str = "") -> tuple[str, str]:
        """A referral pasted in one message and sent; (referral id, thread root)."""
        root = await self.coordinator.send(self.room, "!referral new")
        await wait_for(lambda: self.coordinator.replies_to(root, self.desk_id), timeout=60,
                       what="the first question")
        draft = await self.ask(pasted(recipient, name), root)
        assert "Draft RF-" in draft, draft
        referral_id = draft.split("Draft ", 1)[1].split(" ", 1)[0]
        assert (await self.ask("!send", root)).startswith(f"{referral_id} sent")
        return referral_id, root

    def said_in_thread(self, root: str, text: str) -> list[Received]:
        """The desk's posts in the coordinator's referral thread that contain ``text``."""
        return [r for r in in_thread(self.coordinator, self.desk_id, self.room, root)
                if text in r.body]


@contextlib.asynccontextmanager
async def desk_scenario(homeserver: Any, tmp_path: Path, unique: str,
                        pauses: list[str], db_url: str) -> AsyncIterator[DeskScenario]:
    setup = await bot_setup(homeserver, tmp_path, f"desk{unique}", db_url=db_url)
    env, gateway = prepare_database(setup)
    engine = setup.config.engine
    coordinator = await MatrixUser.create(homeserver, f"coord{unique}")
    cardiologist = await MatrixUser.create(homeserver, f"cardio{unique}")
    with session_scope(engine) as session:
        session.add(credential(coordinator.user_id, "Dana Whitfield", "1234567800",
                               "Family Medicine"))
        session.add(credential(cardiologist.user_id, "Ravi Okafor", "1234567801", "Cardiology"))
    desk = Component("tests.crash.desk_process", {
        "url": homeserver.url, "store_dir": str(setup.config.store_dir), "db_url": setup.db_url,
        "master_key": setup.master_key, "pickle_key": setup.config.pickle_key,
        "user_id": setup.account.user_id, "password": PASSWORD, "pauses": pauses,
    }, tmp_path)
    try:
        device_id = await desk.start()
        room = await coordinator.create_encrypted_room([setup.account.user_id])
        await coordinator.wait_joined(room, setup.account.user_id, device_id)
        yield DeskScenario(desk, setup.account.user_id, env, gateway, engine, coordinator,
                           cardiologist, room)
    finally:
        await desk.kill()
        await coordinator.close()
        await cardiologist.close()
        await gateway.close()
