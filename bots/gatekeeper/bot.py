"""The gatekeeper: verifies clinicians and keeps verified rooms verified.

Everything a clinician or verifier can say to the gatekeeper is declared on
:class:`GatekeeperBot`; the rules live beside it:

    verification.py  the !verify conversation (a table of pure steps) + its row
    attestation.py   !approve / !deny, issuing the credential
    rooms.py         verified rooms: how they are made, who may be invited
    revocation.py    the sweep (a declared periodic job): revocation, expiry,
                     deactivation, reminders
    directory.py     !find and !directory
    roster.py        bulk attestation from an organisation's roster (CLI)
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bots.gatekeeper import attestation, directory, rooms, verification
from bots.gatekeeper.config import GatekeeperConfig
from bots.gatekeeper.notices import remember_contact
from bots.gatekeeper.registry import find_provider
from bots.gatekeeper.revocation import SWEEP, Sweeper, revoke
from curbside.audit import AuditLog
from curbside.credentials import InviteBlock, active_credential, is_verified_room
from curbside.database import after_commit
from curbside.matrix import content as build
from curbside.matrix.bot import MESSAGE, Bot
from curbside.matrix.commands import Arg, command, group, on_event
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.context import Context
from curbside.matrix.jobs import Job, periodic
from curbside.matrix.rooms import RoomCreationError


def _now() -> datetime:
    return datetime.now(UTC)


def _user_id(text: str) -> str:
    """A Matrix user id argument ('@dana:example.org')."""
    text = text.strip()
    if not (text.startswith("@") and ":" in text):
        raise ValueError("must be a Matrix ID like @dana:example.org")
    return text


log = logging.getLogger(__name__)


class GatekeeperBot(Bot):
    """Answers clinicians in a DM and verifiers in their room; sweeps verified rooms."""

    migrations_location = Path(__file__).resolve().parent / "migrations" / "versions"

    def __init__(
        self,
        account: BotAccount,
        config: RuntimeConfig,
        *,
        audit: AuditLog,
        settings: GatekeeperConfig | None = None,
    ) -> None:
        super().__init__(account, config)
        self.settings = settings or GatekeeperConfig()
        self.audit = audit
        self.sweeper = Sweeper(
            client=lambda: self.client,
            engine=config.engine,
            audit=audit,
            config=self.settings,
            supervisor=self.supervisor,
        )

    @property
    def sweep_interval(self) -> float:
        """Seconds between sweeps (the option), for the periodic job."""
        return self.settings.sweep_interval

    @periodic(SWEEP, every="sweep_interval")
    async def sweep(self, job: Job) -> None:
        """Remove members whose verification ended, tell them why, remind who expires soon."""
        await self.sweeper.sweep()

    # -- verification conversation -------------------------------------------

    @command("verify", help="prove you are a clinician (NPI, name, licence, then a verifier)")
    async def verify(self, ctx: Context) -> None:
        event, session = ctx.event, ctx.session
        room = ctx.client.rooms.get(event.room_id)
        shared = event.room_id == self.settings.verifiers_room or is_verified_room(
            session, event.room_id
        )
        if room is None or len(room.users) > 2 or shared:
            ctx.reply("Please send !verify in a direct message with me: your answers (NPI, "
                      "name, licence) are for me and the credentialing team only.")
            return
        now = _now()
        remember_contact(session, event.sender, event.room_id, now)
        request = verification.open_request(session, event.sender)
        if request is not None and request.state == verification.AWAITING_ATTESTATION:
            ctx.reply(f"Your request #{request.id} is with the credentialing team; I will tell "
                      "you here when they have decided. !cancel withdraws it.")
            return
        if request is not None:
            request.room_id = event.room_id
            ctx.reply(f"Let's continue request #{request.id}. "
                      + verification.QUESTIONS[request.state])
            return
        request = verification.start_request(session, event.sender, event.room_id, now)
        self.audit.record(session, actor=event.sender, action="verification.start",
                          record_type="verification_request", record_id=str(request.id))
        current = active_credential(session, event.sender, now)
        renewal = (f"You are verified until {current.expires_at.date().isoformat()}; this "
                   "renews it. " if current else "")
        ctx.reply(f"{renewal}Verification request #{request.id}: I will ask three questions, "
                  "one at a time, then a verifier confirms your identity. !cancel stops at any "
                  "time. " + verification.QUESTIONS[verification.AWAITING_NPI])

    @command("cancel", help="withdraw your verification request")
    async def cancel(self, ctx: Context) -> None:
        request = verification.open_request(ctx.session, ctx.event.sender)
        if request is None:
            ctx.reply("You have no verification request in progress; !verify starts one.")
            return
        request.state = verification.CANCELLED
        request.updated_at = _now()
        ctx.session.flush()
        self.audit.record(ctx.session, actor=ctx.event.sender, action="verification.cancel",
                          record_type="verification_request", record_id=str(request.id))
        ctx.reply(f"Request #{request.id} is cancelled. Send !verify whenever you want to "
                  "start again.")

    @on_event(MESSAGE)
    async def answer(self, ctx: Context) -> None:
        """A plain message in the DM is the answer to the pending question, if any."""
        event, session = ctx.event, ctx.session
        if event.msgtype != "m.text" or event.body.startswith("!") or not event.body.strip():
            return
        request = verification.open_request(session, event.sender)
        if (request is None or request.room_id != event.room_id
                or request.state not in verification.ANSWERING):
            return
        step = verification.apply_answer(
            request, event.body, lambda npi: find_provider(session, npi),
            max_attempts=self.settings.max_attempts, now=_now(),
        )
        session.flush()
        if step.state == verification.AWAITING_ATTESTATION:
            self._submit(ctx, request)
        elif step.state == verification.CLOSED:
            self.audit.record(session, actor=event.sender, action="verification.close",
                              record_type="verification_request", record_id=str(request.id),
                              reason="too many unsuccessful answers")
        ctx.reply(step.reply)

    def _submit(self, ctx: Context, request: Any) -> None:
        self.audit.record(
            ctx.session, actor=request.user_id, action="verification.submit",
            record_type="verification_request", record_id=str(request.id),
            details={"npi": request.npi, "licence_state": request.licence_state},
        )
        if self.settings.verifiers_room:
            plain, markup = attestation.evidence_for_verifiers(request)
            ctx.send(self.settings.verifiers_room, build.notice(plain, markup))
        else:
            log.warning("verification request %s waits: no verifiers_room configured", request.id)
            ctx.reply(
                "Your request is recorded, but this server has no verifiers' room yet, so no "
                "one can attest it. Ask your Curbside operator to set "
                "bots.gatekeeper.options.verifiers_room (or to import your organisation's "
                "roster with `curbside verify import`)."
            )

    # -- verifiers -----------------------------------------------------------

    def _in_verifiers_room(self, ctx: Context) -> bool:
        if ctx.event.room_id == self.settings.verifiers_room:
            return True
        ctx.reply("Verifier commands are accepted only in the credentialing team's room.")
        return False

    @command("approve", help="(verifiers) approve a request, saying what you checked",
             args=[Arg("id", convert=int), Arg("checked", rest=True)])
    async def approve(self, ctx: Context, id: int, checked: str) -> None:
        if not self._in_verifiers_room(ctx):
            return
        try:
            request = attestation.pending(ctx.session, id)
            credential = attestation.approve(
                ctx.session, self.audit, request, verifier=ctx.event.sender, checked=checked,
                now=_now(), days=self.settings.credential_days,
            )
        except attestation.AttestationError as error:
            ctx.session.rollback()
            ctx.reply(str(error))
            return
        ctx.send(request.room_id, build.notice(attestation.approval_text(credential)))
        ctx.reply(f"Approved #{id}: {request.user_id} is verified until "
                  f"{credential.expires_at.date().isoformat()} (recorded: {checked}).")

    @command("deny", help="(verifiers) deny a request with the reason",
             args=[Arg("id", convert=int), Arg("reason", rest=True)])
    async def deny(self, ctx: Context, id: int, reason: str) -> None:
        if not self._in_verifiers_room(ctx):
            return
        try:
            request = attestation.pending(ctx.session, id)
        except attestation.AttestationError as error:
            ctx.reply(str(error))
            return
        attestation.deny(ctx.session, self.audit, request, verifier=ctx.event.sender,
                         reason=reason, now=_now())
        ctx.send(request.room_id, build.notice(
            f"Your verification request #{id} was not approved: {reason}. If you can resolve "
            "this, send !verify to start a new request, or contact your credentialing team."
        ))
        ctx.reply(f"Denied #{id}; {request.user_id} has been told why.")

    @command("revoke", help="(verifiers) revoke a clinician's verification",
             args=[Arg("user", convert=_user_id), Arg("reason", rest=True)])
    async def revoke(self, ctx: Context, user: str, reason: str) -> None:
        if not self._in_verifiers_room(ctx):
            return
        if not revoke(ctx.session, self.audit, user, by=ctx.event.sender, reason=reason,
                      now=_now()):
            ctx.reply(f"{user} holds no active verification; nothing to revoke.")
            return
        ctx.reply(f"Revoked {user}. They will be removed from every verified room within "
                  f"{int(self.settings.sweep_interval)} s and told why.")
        after_commit(ctx.session, lambda: self.supervisor.wake(SWEEP))

    # -- verified rooms ------------------------------------------------------

    verified_room = group("room", help="verified rooms")

    @verified_room.subcommand("create", help="make a verified room (verified members only)",
                              args=[Arg("name", rest=True)])
    async def room_create(self, ctx: Context, name: str) -> None:
        sender = ctx.event.sender
        credential = active_credential(ctx.session, sender)
        if credential is None:
            ctx.reply("Only verified clinicians can create verified rooms; send !verify first.")
            return
        try:
            room_id = await rooms.create_verified_room(
                ctx.client, name=name, allowed_servers=self.settings.allowed_servers
            )
            await rooms.invite_with_verified_name(
                ctx.client, room_id, sender, credential.display_name
            )
        except (RoomCreationError, rooms.RoomActionError) as error:
            ctx.reply(f"I could not create the room: {error}. Please try again later.")
            return
        rooms.record_room(ctx.session, self.audit, room_id, sender, name, _now())
        ctx.reply(f"Created the verified room '{name}' ({room_id}) and invited you. Invite "
                  f"verified colleagues with !invite @colleague {room_id}")

    async def _invite(self, ctx: Context, room_id: str, user: str, refusal: str | None) -> None:
        """Invite with the verified name, audit, and answer (refusals say why)."""
        if refusal is not None:
            ctx.reply(refusal)
            return
        credential = active_credential(ctx.session, user)
        assert credential is not None
        try:
            await rooms.invite_with_verified_name(ctx.client, room_id, user,
                                                  credential.display_name)
        except rooms.RoomActionError as error:
            ctx.reply(f"I could not invite {user}: {error}")
            return
        self.audit.record(ctx.session, actor=ctx.event.sender, action="verified_room.invite",
                          record_type="verified_room", record_id=room_id,
                          details={"user_id": user})
        ctx.reply(f"Invited {user} as {credential.display_name}.")

    @command("invite", help="invite a verified colleague to a verified room",
             args=[Arg("user", convert=_user_id), Arg("room")])
    async def invite(self, ctx: Context, user: str, room: str) -> None:
        room_id = await rooms.resolve_room(ctx.client, room)
        if room_id is None:
            ctx.reply(f"I do not know the room {room}; give its id (!…) or alias (#…).")
            return
        refusal = rooms.invite_refusal(ctx.session, room_id, ctx.event.sender, user)
        await self._invite(ctx, room_id, user, refusal)

    @command("join", help="ask to be invited to a verified room", args=[Arg("room")])
    async def join(self, ctx: Context, room: str) -> None:
        room_id = await rooms.resolve_room(ctx.client, room)
        if room_id is None:
            ctx.reply(f"I do not know the room {room}; give its id (!…) or alias (#…).")
            return
        refusal = rooms.join_refusal(ctx.session, room_id, ctx.event.sender)
        await self._invite(ctx, room_id, ctx.event.sender, refusal)

    @on_event("m.room.member")
    async def member(self, ctx: Context) -> None:
        """Flag a member of a verified room who shows a name other than their verified one.

        Synapse lets only the member set their own join event, so the gatekeeper
        cannot re-state the name; it says in the room who the member really is.
        """
        event, session = ctx.event, ctx.session
        content = event.content
        # A join is always sent by the member it is about (Matrix auth rules).
        if content.get("membership") != "join" or not is_verified_room(session, event.room_id):
            return
        credential = active_credential(session, event.sender)
        shown = content.get("displayname")
        if credential is None or shown == credential.display_name:
            return
        ctx.send(event.room_id, build.notice(
            f"Note: {event.sender} appears here as '{shown}'. Their verified identity is "
            f"{credential.display_name}.",
            f"Note: {build.pill(event.sender)} appears here as "
            f"'{html.escape(str(shown))}'. Their verified identity is "
            f"<b>{html.escape(credential.display_name)}</b>.",
            mentions=[event.sender],
        ))

    # -- blocks and directory --------------------------------------------------

    @command("block", help="refuse invites from a user (or @*:server)",
             args=[Arg("user", convert=_user_id)])
    async def block(self, ctx: Context, user: str) -> None:
        sender = ctx.event.sender
        if ctx.session.get(InviteBlock, (sender, user)) is None:
            ctx.session.add(InviteBlock(user_id=sender, blocked_user_id=user, created_at=_now()))
            ctx.session.flush()
            self.audit.record(ctx.session, actor=sender, action="invite_block.add",
                              record_type="invite_block", record_id=sender,
                              details={"blocked": user})
        ctx.reply(f"I will not invite you to rooms on behalf of {user}. !unblock {user} undoes it.")

    @command("unblock", help="accept invites from a user again",
             args=[Arg("user", convert=_user_id)])
    async def unblock(self, ctx: Context, user: str) -> None:
        sender = ctx.event.sender
        row = ctx.session.get(InviteBlock, (sender, user))
        if row is None:
            ctx.reply(f"{user} was not blocked.")
            return
        ctx.session.delete(row)
        ctx.session.flush()
        self.audit.record(ctx.session, actor=sender, action="invite_block.remove",
                          record_type="invite_block", record_id=sender, details={"blocked": user})
        ctx.reply(f"{user} can invite you again.")

    @command("find", help="find verified colleagues, e.g. !find cardiology MA or "
             "!find family medicine TN",
             args=[Arg("specialty", rest=True),
                   Arg("state", matches="[A-Za-z]{2}", help="a two-letter state, e.g. MA")])
    async def find(self, ctx: Context, specialty: str, state: str) -> None:
        now = _now()
        if active_credential(ctx.session, ctx.event.sender, now) is None:
            ctx.reply("The directory is for verified clinicians; send !verify first.")
            return
        found = directory.find_colleagues(ctx.session, specialty, state, now=now,
                                          limit=self.settings.directory_limit)
        if not found:
            ctx.reply(f"No verified colleagues found for '{specialty}' licensed in "
                      f"{state.upper()}. Try a broader term (e.g. 'medicine') or another state.")
            return
        lines = [f"{c.display_name} — {c.user_id}" for c in found]
        markup = "<ul>" + "".join(
            f"<li>{html.escape(c.display_name)} — {build.pill(c.user_id)}</li>"
            for c in found) + "</ul>"
        ctx.reply(f"Verified colleagues ({len(found)}):\n" + "\n".join(lines),
                  f"<p>Verified colleagues ({len(found)}):</p>{markup}")

    listing = group("directory", help="whether !find lists you")

    @listing.subcommand("hide", help="opt out of !find")
    async def directory_hide(self, ctx: Context) -> None:
        self._set_listed(ctx, listed=False)

    @listing.subcommand("show", help="be listed by !find again")
    async def directory_show(self, ctx: Context) -> None:
        self._set_listed(ctx, listed=True)

    def _set_listed(self, ctx: Context, *, listed: bool) -> None:
        if not directory.set_listed(ctx.session, self.audit, ctx.event.sender, listed=listed,
                                    now=_now()):
            ctx.reply("Only verified clinicians are listed; send !verify first.")
            return
        ctx.reply("You are listed in the directory again." if listed
                  else "You are hidden from the directory; !directory show lists you again.")
