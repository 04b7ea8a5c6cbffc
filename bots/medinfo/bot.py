"""The medical-information bot: routes clinicians' questions to sponsors' MSL teams.

    clinician DM / !medinfo ─► intake table (firewall, product, urgency, response,
        consent, share, confirm) ─► thread root in the sponsor's MSL room
    MSL: !claim or a reaction ─► answer in the thread ─► relayed privately to the
        clinician's thread ◄─► follow-ups (through the firewall) ─► !close <outcome>
        ─► "did the answer help?"
    preferred response "letter": each MSL answer (and !close, if the thread said more
        than the last letter) ─► response letter PDF, encrypted m.file in the thread
    every clinician message ─► AE / complaint screen ─► PV intake in the sponsor's
        PV room at once, receipt-to-forward time kept
    @periodic service-levels (or review_service_levels(), e.g. at a manual clock) ─►
        each request on its own ─► reminder in the MSL thread, then escalation to the
        medical-information lead (a request that keeps failing is moved aside, and the
        operator told, by the runtime's supervisor; the others are reviewed)

Only clinicians with an active verified credential may ask. Nothing reaches a
sponsor room that has not passed the PHI firewall, and the bot posts into a
sponsor room only while every member there is one the sponsor admitted.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from bots.medinfo import (
    ae_screen,
    intake,
    letter,
    lifecycle,
    phi_firewall,
    routing,
    service_levels,
)
from bots.medinfo.lifecycle import Refused, reference
from bots.medinfo.models import RequestRow
from bots.medinfo.products import Catalog
from bots.medinfo.sponsors import Directory, Sponsor, load_directory
from bots.medinfo.states import Side, State
from bots.medinfo.store import RECORD_TYPE, Envelope, RequestStore
from curbside.audit import AuditLog
from curbside.credentials import Credential, active_credential
from curbside.database import session_scope
from curbside.matrix import content as build
from curbside.matrix.bot import Bot
from curbside.matrix.commands import Arg, command, on_event
from curbside.matrix.config import BotAccount, RuntimeConfig
from curbside.matrix.context import Context
from curbside.matrix.files import AttachmentError
from curbside.matrix.jobs import Job, periodic

log = logging.getLogger(__name__)

REVIEW = "service-levels"
REVIEW_EVERY = 60.0  # seconds between service-level reviews
_FILE_TYPES = {"m.file", "m.image", "m.video", "m.audio"}
_NO_PHI = {"no phi", "confirm no phi", "it holds no phi"}
NOT_VERIFIED = (
    "Only verified clinicians can send medical-information requests. Verify your "
    "credential with the gatekeeper first, then ask again."
)


@dataclass(frozen=True, slots=True)
class _Upload:
    """A response letter uploaded (encrypted) and ready to send; its hash goes to audit."""

    message: dict[str, Any]
    filename: str
    sha256: str


class MedinfoBot(Bot):
    """The MSL consult desk's Matrix presence; everything it answers to is declared here."""

    migrations_location: ClassVar[Path | None] = Path(__file__).parent / "migrations" / "versions"

    def __init__(self, account: BotAccount, config: RuntimeConfig, *, audit_key: bytes,
                 clock: service_levels.Clock | None = None,
                 review_every: float = REVIEW_EVERY) -> None:
        super().__init__(account, config)
        self.audit = AuditLog(audit_key)
        self.clock = clock or service_levels.SystemClock()
        self.review_every = review_every  # seconds between service-level reviews
        self.requests = RequestStore(account.user_id, config.cipher, self.audit)

    def directory(self, ctx: Context) -> Directory:
        return load_directory(ctx.session)

    # -- membership ------------------------------------------------------------

    async def should_join(self, room_id: str, inviter: str | None) -> bool:
        """Sponsor rooms: only from an admitted member; other rooms: only from a clinician."""
        with session_scope(self.config.engine) as session:
            sponsor = load_directory(session).by_room(room_id)
            if sponsor is not None:
                return inviter is not None and sponsor.admitted(inviter, room_id)
            return inviter is not None and active_credential(session, inviter) is not None

    def _intruders(self, sponsor: Sponsor, room_id: str) -> list[str]:
        """Members and invitees of a sponsor room whom the sponsor did not admit there."""
        room = self.client.rooms.get(room_id)
        if room is None:
            return []
        people = (set(room.users) | set(room.invited_users)) - {self.account.user_id}
        return sorted(user for user in people if not sponsor.admitted(user, room_id))

    def _room_is_clean(self, sponsor: Sponsor, room_id: str) -> bool:
        return room_id in self.client.rooms and not self._intruders(sponsor, room_id)

    @on_event("m.room.member")
    async def member(self, ctx: Context) -> None:
        """Anyone not admitted (a sales role, a stranger) invited to or joining a sponsor
        room is removed, and nothing is posted there while they are in (see _send_to_team)."""
        sponsor = self.directory(ctx).by_room(ctx.event.room_id)
        if sponsor is None or ctx.event.content.get("membership") not in ("invite", "join"):
            return
        intruders = self._intruders(sponsor, ctx.event.room_id)
        for user in intruders:
            await self.client.room_kick(ctx.event.room_id, user, reason="not admitted")
        for user in intruders:
            self.audit.record(ctx.session, actor=self.account.user_id,
                              action="medinfo.refuse_member", record_type="room",
                              record_id=ctx.event.room_id,
                              reason="not admitted by the sponsor", details={"user": user})

    # -- commands ----------------------------------------------------------------

    @command("medinfo", help="ask a sponsor's medical team a question (verified clinicians)",
             args=[Arg("question", help="your question, verbatim", rest=True)])
    async def medinfo(self, ctx: Context, question: str) -> None:
        directory = self.directory(ctx)
        if directory.by_room(ctx.event.room_id) is not None:
            ctx.reply("Requests are made from a clinician's chat with me, not in sponsor rooms.")
            return
        self._start_request(ctx, directory, question, thread_root=ctx.event.event_id)

    @command("claim", help="(MSL) take the request of this thread")
    async def claim(self, ctx: Context) -> None:
        found = self._sponsor_request(ctx, build.thread_root_of(ctx.event))
        if found is not None:
            self._claim(ctx, found[0], found[1], ctx.event.sender)

    @command("close", help="(MSL) close the request of this thread with its outcome",
             args=[Arg("outcome", help="e.g. answered, referred, no data", rest=True)])
    async def close(self, ctx: Context, outcome: str) -> None:
        found = self._sponsor_request(ctx, build.thread_root_of(ctx.event))
        if found is None:
            return
        sponsor, row = found
        try:
            lifecycle.may_close(row, outcome)
        except Refused as refused:
            ctx.reply(str(refused))
            return
        envelope = self.requests.open(row)
        upload = await self._upload_letter(ctx, sponsor, row, envelope,
                                           responder=row.claimed_by or ctx.event.sender)
        if upload is not None:
            self._send_letter(ctx, row, envelope, upload)
        self.requests.close(ctx.session, row, outcome=outcome, by=ctx.event.sender,
                            at=self.clock.now())
        self._to_clinician(ctx, row, (
            f"{sponsor.name}'s medical team closed request {reference(row)} ({outcome}). "
            "Did the answer help? Reply `yes` or `no`."))
        ctx.reply(f"Closed {reference(row)}: {outcome}.")

    @on_event("m.reaction")
    async def reaction(self, ctx: Context) -> None:
        relates = ctx.event.content.get("m.relates_to") or {}
        if relates.get("rel_type") != "m.annotation" or not relates.get("event_id"):
            return
        found = self._sponsor_request(ctx, str(relates["event_id"]), quiet=True)
        if found is not None:
            self._claim(ctx, found[0], found[1], ctx.event.sender)

    # -- messages ----------------------------------------------------------------

    @on_event("m.room.message")
    async def message(self, ctx: Context) -> None:
        event = ctx.event
        if event.body.startswith("!") or event.msgtype == "m.notice":
            return
        directory = self.directory(ctx)
        if directory.by_room(event.room_id) is not None:
            await self._from_sponsor(ctx)
            return
        root = build.thread_root_of(event)
        row = self.requests.by_clinician_thread(ctx.session, event.room_id, root)
        if row is None and root == event.event_id:
            row = self.requests.intake_in_room(ctx.session, event.room_id, event.sender)
        if row is None:
            if self._is_direct_chat(event.room_id) and event.msgtype == "m.text":
                self._start_request(ctx, directory, event.body, thread_root=root)
            return
        if row.clinician_id != event.sender:
            return
        state = State(row.state)
        if state is State.INTAKE:
            self._intake_answer(ctx, directory, row)
        elif lifecycle.is_open(row):
            self._follow_up(ctx, directory, row)
        elif state is State.CLOSED and row.helped is None:
            self._feedback(ctx, row)

    def _is_direct_chat(self, room_id: str) -> bool:
        room = self.client.rooms.get(room_id)
        return room is not None and room.member_count <= 2

    # -- intake ------------------------------------------------------------------

    def _credential(self, ctx: Context) -> Credential | None:
        credential = active_credential(ctx.session, ctx.event.sender, self.clock.now())
        if credential is None:
            ctx.reply(NOT_VERIFIED, mentions=[ctx.event.sender])
        return credential

    def _start_request(self, ctx: Context, directory: Directory, text: str, *,
                       thread_root: str) -> None:
        credential = self._credential(ctx)
        if credential is None:
            return
        catalog = Catalog(directory)
        envelope = Envelope(intake.start(text, catalog))
        row = self.requests.new(
            ctx.session, clinician=ctx.event.sender, room_id=ctx.event.room_id,
            thread_root=thread_root, envelope=envelope, received_at=self.clock.now(),
        )
        self._screen_safety(ctx, directory, row, envelope, credential, envelope.draft.question)
        self._advance(ctx, directory, row, envelope, credential)
        self._audit(ctx, "medinfo.request", row)

    def _intake_answer(self, ctx: Context, directory: Directory, row: RequestRow) -> None:
        credential = self._credential(ctx)
        if credential is None:
            return
        envelope = self.requests.open(row)
        result = intake.answer(envelope.draft, ctx.event.body, Catalog(directory))
        envelope.draft = result.draft
        self._screen_safety(ctx, directory, row, envelope, credential, ctx.event.body)
        if result.error is not None:
            self.requests.seal(row, envelope)
            self._to_clinician(ctx, row, result.error)
            return
        self._advance(ctx, directory, row, envelope, credential)

    def _advance(self, ctx: Context, directory: Directory, row: RequestRow,
                 envelope: Envelope, credential: Credential) -> None:
        """Ask the next question, or route once the clinician confirmed."""
        self._flush_pending_safety(ctx, directory, row, envelope, credential)
        state = intake.state_of(envelope.draft)
        self.requests.seal(row, envelope)
        if state == intake.CANCELLED:
            self.requests.cancel(ctx.session, row, Side.CLINICIAN, actor=ctx.event.sender)
            self._to_clinician(ctx, row, "Request cancelled; nothing was sent to a sponsor.")
            return
        if state != intake.READY:
            preview = self._preview(row, credential)
            self._to_clinician(ctx, row, intake.prompt(envelope.draft, preview))
            return
        self._send_to_team(ctx, directory, row, envelope.draft, credential)

    def _preview(self, row: RequestRow, credential: Credential) -> intake.Preview:
        def render(draft: intake.Draft) -> str:
            who = routing.requester(credential, share_identity=bool(draft.share_identity))
            return routing.request_text(reference(row), draft, who)

        return render

    def _send_to_team(self, ctx: Context, directory: Directory, row: RequestRow,
               draft: intake.Draft, credential: Credential) -> None:
        assert draft.product is not None and draft.urgency is not None
        sponsor = directory.get(draft.product.sponsor_key)
        if sponsor is None:
            self._to_clinician(ctx, row, "That sponsor is no longer served by this desk.")
            return
        try:
            team = routing.team_for(sponsor, draft.product, credential.licence_state)
        except routing.NoTeamError as error:
            self._to_clinician(ctx, row, f"{error}. Your request was not sent.")
            self.requests.cancel(ctx.session, row, Side.DESK, actor=self.account.user_id,
                                 reason=str(error))
            return
        if phi_firewall.screen(draft.question) or not self._room_is_clean(sponsor, team.room_id):
            log.warning("request %s held: sponsor room %s not safe to post", row.id, team.room_id)
            self._to_clinician(ctx, row, "I could not deliver this safely to the sponsor's team "
                                         "right now; the desk operator has been told.")
            return
        now = self.clock.now()
        who = routing.requester(credential, share_identity=bool(draft.share_identity))
        text = routing.request_text(reference(row), draft, who)
        txn_id = ctx.post(team.room_id, text, phi=True)
        due = lifecycle.route(self.requests, ctx.session, row, sponsor=sponsor, team=team,
                              draft=draft, requester=who, root_txn_id=txn_id, now=now,
                              actor=ctx.event.sender)
        expect = service_levels.expectation(due, sponsor.hours)
        self._to_clinician(ctx, row, (
            f"Sent to {sponsor.name}'s medical team as request {reference(row)}. "
            f"Expect an answer by {expect}. Their answer will come to this thread, privately; "
            "write here to add to your question."))

    # -- safety --------------------------------------------------------------------

    def _screen_safety(self, ctx: Context, directory: Directory, row: RequestRow,
                       envelope: Envelope, credential: Credential, text: str) -> None:
        """Screen one clinician message; forward to PV at once when the product is known."""
        catalog = Catalog(directory)
        mentions = catalog.recognise(text)
        screening = ae_screen.screen(text, names_product=bool(mentions) or (
            envelope.draft.product is not None))
        if not screening.flagged:
            return
        pending = {"event_id": ctx.event.event_id, "text": text,
                   "received": ctx.event.origin_server_ts / 1000,
                   "adverse_event": screening.adverse_event,
                   "sponsor": next((m.candidates[0].sponsor_key for m in mentions
                                    if not m.ambiguous), None)}
        envelope.pending_safety.append(pending)
        self._flush_pending_safety(ctx, directory, row, envelope, credential)
        if envelope.pending_safety:
            self._to_clinician(ctx, row, (
                "This may describe an adverse event or a product complaint. Safety information "
                "goes to the sponsor's pharmacovigilance team as soon as I know which product "
                "it concerns, and they may follow up with you."))

    def _flush_pending_safety(self, ctx: Context, directory: Directory, row: RequestRow,
                              envelope: Envelope, credential: Credential) -> None:
        waiting = []
        draft = envelope.draft
        for item in envelope.pending_safety:
            key = item["sponsor"] or (draft.product.sponsor_key if draft.product else None)
            sponsor = directory.get(key) if key else None
            if sponsor is None:
                waiting.append(item)
                continue
            product = (draft.product if draft.product and draft.product.sponsor_key == key
                       else self._product_in(sponsor, item["text"], directory))
            if product is None:
                waiting.append(item)
                continue
            self._forward_to_pv(ctx, sponsor, row, item, product, credential, draft)
        envelope.pending_safety = waiting

    @staticmethod
    def _product_in(sponsor: Sponsor, text: str, directory: Directory) -> intake.Choice | None:
        for mention in Catalog(directory).recognise(text):
            for offer in mention.candidates:
                if offer.sponsor_key == sponsor.key:
                    return intake.Choice.of(offer)
        return None

    def _forward_to_pv(self, ctx: Context, sponsor: Sponsor, row: RequestRow,
                       item: dict[str, Any], product: intake.Choice, credential: Credential,
                       draft: intake.Draft) -> None:
        received = datetime.fromtimestamp(item["received"], UTC)
        screening = ae_screen.screen(item["text"], names_product=True)
        report = routing.pv_intake(
            reference(row), item["text"], screening, product, credential,
            share_identity=bool(draft.share_identity), contact_consent=bool(draft.consent),
            day_zero=received,
        )
        txn = ctx.post(sponsor.pv_room_id, report.text(), phi=True)
        forwarded = datetime.now(UTC)
        seconds = max(0.0, time.time() - item["received"])
        self.requests.add_pv_report(
            ctx.session, row, source_event_id=item["event_id"], sponsor_key=sponsor.key,
            kind=report.kind, received_at=received, forwarded_at=forwarded,
            seconds_to_forward=seconds, txn_id=txn,
        )
        self._to_clinician(ctx, row, (
            f"Safety information in your message has gone to {sponsor.name}'s "
            "pharmacovigilance team, as the law requires; they may follow up with you."))
        self._audit(ctx, "medinfo.pv_forward", row, sponsor=sponsor.key, kind=report.kind,
                    seconds_to_forward=round(seconds, 3))

    # -- after routing ---------------------------------------------------------------

    def _follow_up(self, ctx: Context, directory: Directory, row: RequestRow) -> None:
        credential = self._credential(ctx)
        sponsor = directory.get(row.sponsor_key or "")
        if credential is None or sponsor is None:
            return
        envelope = self.requests.open(row)
        event = ctx.event
        if event.msgtype in _FILE_TYPES:
            envelope.pending_file = dict(event.content)
            self.requests.seal(row, envelope)
            self._to_clinician(ctx, row, (
                "Files go to the sponsor only if they hold no patient information. Reply "
                "`no phi` to confirm that, or `discard`."))
            return
        reply = event.body.strip().lower()
        if envelope.pending_file is not None and reply in _NO_PHI | {"discard"}:
            if reply != "discard":
                self._relay_to_sponsor(ctx, row, envelope.pending_file, kind="file")
            envelope.pending_file = None
            self.requests.seal(row, envelope)
            return
        self._screen_safety(ctx, directory, row, envelope, credential, event.body)
        if envelope.pending_text is not None and reply == "redact":
            text = phi_firewall.redact(envelope.pending_text)
            envelope.pending_text = None
        elif phi_firewall.screen(event.body):
            envelope.pending_text = event.body
            self.requests.seal(row, envelope)
            findings = phi_firewall.screen(event.body)
            self._to_clinician(ctx, row, (
                f"Not sent: this seems to contain patient identifiers "
                f"({phi_firewall.describe(findings)}). Write it again without them, or reply "
                f"`redact` to send:\n\n{phi_firewall.redact(event.body, findings)}"))
            return
        else:
            text, envelope.pending_text = event.body, None
        self.requests.seal(row, envelope)
        self._relay_to_sponsor(ctx, row, build.notice(f"Follow-up from the requester: {text}"),
                               kind="follow_up")

    def _relay_to_sponsor(self, ctx: Context, row: RequestRow, content: dict[str, Any], *,
                          kind: str) -> None:
        root = self.requests.sponsor_root_event(ctx.session, row)
        if root is None or row.team_room_id is None:
            self._to_clinician(ctx, row, "The sponsor has not received your request yet; "
                                         "try again in a moment.")
            return
        ctx.post(row.team_room_id, content=content, thread=root, phi=True)
        self.requests.count_follow_up(row)
        self._audit(ctx, "medinfo.relay_to_sponsor", row, kind=kind)

    def _feedback(self, ctx: Context, row: RequestRow) -> None:
        word = ctx.event.body.strip().lower().rstrip(".!")
        if word not in ("yes", "no"):
            self._to_clinician(ctx, row, "Reply `yes` or `no`: did the answer help?")
            return
        helped = word == "yes"
        self.requests.record_feedback(row, helped=helped)
        self._to_clinician(ctx, row, "Thank you — noted.")
        self._audit(ctx, "medinfo.feedback", row, helped=helped)

    # -- sponsor side ------------------------------------------------------------------

    def _sponsor_request(self, ctx: Context, root: str, *, quiet: bool = False
                         ) -> tuple[Sponsor, RequestRow] | None:
        """The request of a sponsor-room thread, if the sender may act on it."""
        sponsor = self.directory(ctx).by_room(ctx.event.room_id)
        row = self.requests.by_sponsor_thread(ctx.session, root) if sponsor else None
        if sponsor is None or row is None or row.sponsor_key != sponsor.key:
            if not quiet:
                ctx.reply("Use this in the thread of a request, in your team's room.")
            return None
        if not sponsor.may_answer(ctx.event.sender):
            if not quiet:
                ctx.reply("Only the sponsor's MSLs and medical information may act on requests.")
            return None
        return sponsor, row

    def _claim(self, ctx: Context, sponsor: Sponsor, row: RequestRow, who: str) -> None:
        try:
            claimed = lifecycle.claim(self.requests, ctx.session, row, who)
        except Refused as refused:
            ctx.reply(str(refused))
            return
        if not claimed:
            return
        root = self.requests.sponsor_root_event(ctx.session, row) or ctx.event.event_id
        ctx.post(ctx.event.room_id, f"{who} claimed {reference(row)}.", mentions=[who],
                 thread=root)

    async def _from_sponsor(self, ctx: Context) -> None:
        """An MSL's message in a request thread: relayed privately to the clinician, with
        the response letter when the clinician asked for one."""
        event = ctx.event
        root = build.thread_root_of(event)
        if root == event.event_id:
            return
        found = self._sponsor_request(ctx, root, quiet=True)
        if found is None:
            return
        sponsor, row = found
        if not lifecycle.is_open(row):
            ctx.reply(f"{reference(row)} is {row.state}; the requester was not sent this.")
            return
        envelope = self.requests.open(row)
        upload = None
        if event.msgtype in _FILE_TYPES:
            relayed = {k: v for k, v in event.content.items() if k != "m.relates_to"}
            envelope.documents.append(str(event.content.get("filename") or event.body))
        else:
            relayed = build.notice(f"{sponsor.name} medical team ({reference(row)}): "
                                   f"{event.body}")
            envelope.answers.append(event.body)
            upload = await self._upload_letter(ctx, sponsor, row, envelope,
                                               responder=event.sender)
        # No await below: the database writes of this handler start here.
        lifecycle.answered(self.requests, ctx.session, row, event.sender, self.clock.now())
        self._to_clinician(ctx, row, relayed)
        self.requests.seal(row, envelope)
        if upload is not None:
            self._send_letter(ctx, row, envelope, upload)
        self._audit(ctx, "medinfo.relay_to_clinician", row, kind=event.msgtype or "")

    async def _upload_letter(self, ctx: Context, sponsor: Sponsor, row: RequestRow,
                             envelope: Envelope, *, responder: str) -> _Upload | None:
        """Render and upload the response letter when the clinician chose one and the
        thread holds answers no letter carries yet. A failed upload is retried at the
        next answer or at !close rather than holding back the chat answer."""
        if row.response_mode != "letter" or not envelope.uncovered:
            return None
        today = self.clock.now().astimezone(ZoneInfo(sponsor.hours.timezone)).date()
        composed = letter.compose(
            sponsor, reference=reference(row), dated=today, addressee=row.requester or "",
            draft=envelope.draft, answers=envelope.answers, documents=envelope.documents,
            responder=responder)
        pdf = letter.render(composed)
        try:
            message = await ctx.upload_file(pdf, composed.filename, letter.MIMETYPE)
        except AttachmentError:
            log.warning("response letter of request %s not uploaded; retried later", row.id)
            ctx.reply(f"The response letter for {reference(row)} could not be uploaded; "
                      "it will be sent with your next answer or at !close.")
            return None
        return _Upload(message, composed.filename, hashlib.sha256(pdf).hexdigest())

    def _send_letter(self, ctx: Context, row: RequestRow, envelope: Envelope,
                     upload: _Upload) -> None:
        """Disclose the letter privately to the clinician and audit what was disclosed."""
        self._to_clinician(ctx, row, upload.message)
        envelope.letter_covers = len(envelope.answers) + len(envelope.documents)
        self.requests.seal(row, envelope)
        self._audit(ctx, "medinfo.letter_sent", row, filename=upload.filename,
                    sha256=upload.sha256, answers=len(envelope.answers),
                    documents=len(envelope.documents))

    # -- service levels --------------------------------------------------------------------

    @periodic(REVIEW, every="review_every")
    async def review(self, job: Job) -> None:
        """The timer of the service-level review (once at start, then every review_every s)."""
        await self.review_service_levels()

    async def review_service_levels(self) -> list[service_levels.Nudge]:
        """Remind teams of requests nearing their target; escalate overdue ones to the lead.

        Each request is reviewed in its own transaction (its nudge, its audit
        row and its mark commit together), so one that cannot be reviewed
        holds up no other; the supervisor moves it aside after repeated failures.
        """
        now = self.clock.now()
        with session_scope(self.config.engine) as session:
            waiting = [row.id for row in self.requests.awaiting_answer(session)]

        async def review_one(job: Job, request_id: str) -> service_levels.Nudge | None:
            return self._nudge(job, request_id, now)

        nudges = await self.supervisor.each(REVIEW, waiting, review_one)
        return [nudge for nudge in nudges if nudge is not None]

    def _nudge(self, job: Job, request_id: str, now: datetime) -> service_levels.Nudge | None:
        """The reminder or escalation one request is due now, posted in its MSL thread."""
        session = job.session
        row = session.get(RequestRow, request_id)
        if row is None or not lifecycle.is_open(row) or row.first_answer_at is not None:
            return None  # answered or closed since the pass began
        sponsor = load_directory(session).get(row.sponsor_key or "")
        root = self.requests.sponsor_root_event(session, row)
        if sponsor is None or root is None or row.routed_at is None or not row.due_at:
            return None
        nudge = service_levels.review(
            row.id, _utc(row.routed_at), _utc(row.due_at), now,
            reminded=row.reminded_at is not None, escalated=row.escalated_at is not None)
        if nudge is None:
            return None
        if row.team_room_id is None:
            # Its thread root was sent, so it was routed to a room: the row is damaged.
            raise LookupError(f"request {row.id} has an MSL thread but no team room")
        due = service_levels.expectation(_utc(row.due_at), sponsor.hours)
        self.requests.record_nudge(row, nudge.kind, now)
        if nudge.kind == "remind":
            mentions = [row.claimed_by] if row.claimed_by else []
            body = f"Reminder: {reference(row)} ({row.priority}) is due by {due}."
        else:
            mentions = [sponsor.medical_information_lead]
            body = (f"Escalation to {sponsor.medical_information_lead}: "
                    f"{reference(row)} ({row.priority}) passed its target of {due} "
                    "without an answer.")
        job.post(row.team_room_id, body, mentions=mentions, thread=root)
        self.audit.record(session, actor=self.account.user_id,
                          action=f"medinfo.{nudge.kind}", record_type=RECORD_TYPE,
                          record_id=row.id)
        return nudge

    # -- helpers ---------------------------------------------------------------------------

    def _to_clinician(self, ctx: Context, row: RequestRow, message: str | dict[str, Any]) -> None:
        """Privately into the clinician's request thread."""
        content = build.notice(message) if isinstance(message, str) else message
        reply_to = (ctx.event.event_id if ctx.event.room_id == row.clinician_room_id
                    else row.clinician_thread_root)
        ctx.post(row.clinician_room_id, content=content, thread=row.clinician_thread_root,
                 reply_to=reply_to, phi=True)

    def _audit(self, ctx: Context, action: str, row: RequestRow, **details: Any) -> None:
        self.audit.record(ctx.session, actor=ctx.event.sender, action=action,
                          record_type=RECORD_TYPE, record_id=row.id, details=details)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
