"""What the gatekeeper answers when someone speaks to it (the service role).

    clinician DM    verify ─ answer ─ answer ─ answer (→ the verifiers' room) · cancel
                    fax_code (a code to the NPPES practice fax, faxed after the commit)
                    ─ confirm_code (→ the evidence, in the verifiers' room once submitted)
    verifiers room  approve (→ the clinician's DM) · deny (→ the DM) · revoke (wakes the sweep)
    verified rooms  room_creator ─ (the bot creates it) ─ room_created
                    invitee (consent) ─ (the bot invites) ─ invited · name_note
                    join_request ─ (notice to the owners) ─ accept_join (consent)
                      ─ (the bot invites) · decline_join · expire_join_requests
                    add_owner · set_invites_by
                    upgrade_room (announced) ─ (the bot upgrades) ─ room_upgraded
                      (successor recorded, members consented) ─ (the bot re-invites)
    anyone          block · unblock · find · set_listed

Each method takes plain inputs: the session of the handler's exactly-once
transaction, who asked and where (:class:`Asker`), and the parsed arguments.
It returns the :class:`Reply` to give, or raises :class:`Refused`, whose
message is written for the person who asked; the caller then rolls back
whatever the call wrote and gives that answer.

Nothing here touches Matrix. The bot finds out what only the client knows
(is this room a DM, which room an alias names), does the homeserver actions
(creating a room, inviting) between the calls that check and record them,
and queues the reply and the posts a :class:`Reply` asks for.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bots.gatekeeper import (
    admission,
    attestation,
    credentialing,
    directory,
    fax_code,
    joins,
    verification,
)
from bots.gatekeeper.config import GatekeeperConfig
from bots.gatekeeper.models import JoinRequest, VerificationRequest
from bots.gatekeeper.notices import remember_contact
from bots.gatekeeper.registry import find_provider
from curbside.audit import AuditLog
from curbside.credentials import (
    INVITES_BY_OWNERS,
    Credential,
    active_credential,
    is_verified_room,
    verified_name,
)
from curbside.matrix.content import pill
from curbside.phones import display
from curbside.text import UnsafeText, check_line

log = logging.getLogger(__name__)

#: The sent hook that records a join request's notice (so reactions to it answer it).
JOIN_NOTICE_SENT = "join-notice"

NOT_IN_A_DM = (
    "Please send !verify in a direct message with me: your answers (NPI, name, licence) "
    "are for me and the credentialing team only."
)
NOT_A_VERIFIER_ROOM = "Verifier commands are accepted only in the credentialing team's room."
NO_VERIFIERS_ROOM = (
    "Your request is recorded, but this server has no credentialing team yet, so no one can "
    "attest it. Ask your Curbside operator to run `curbside verifiers add @verifier:server`: "
    "your request reaches the team as soon as their room exists, and you hear from me here."
)

#: An NPI, a legal name or a licence: nothing a clinician answers is longer.
MAX_ANSWER_CHARS = 200


@dataclass(frozen=True, slots=True)
class Asker:
    """Who said something to the gatekeeper, and where."""

    user_id: str
    room_id: str


@dataclass(frozen=True, slots=True)
class Post:
    """A notice for a room other than the asker's thread (the outbox sends it)."""

    room_id: str
    text: str
    html: str | None = None
    mentions: tuple[str, ...] = ()
    on_sent: str | None = None
    """A sent hook of the bot (``name:argument``) to run with the event id once sent."""


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to the asker, and what goes with it in the same transaction.

    ``posts`` are queued first, then each of ``preface`` as its own reply, then
    ``text``. ``wake_sweep``: a credential ended; the sweep runs once this commits.
    ``fax``: a verification code to fax once this commits.
    """

    text: str
    html: str | None = None
    posts: tuple[Post, ...] = ()
    preface: tuple[str, ...] = ()
    wake_sweep: bool = False
    fax: fax_code.CodeFax | None = None


class Refused(Exception):
    """What was asked is not done; the message says why (and what to do instead).

    The caller undoes what the call wrote (rolls the session back) and gives it.
    """


class Gatekeeper:
    """The gatekeeper's answers to clinicians and verifiers, over its records."""

    def __init__(
        self, audit: AuditLog, settings: GatekeeperConfig, *, clock: Callable[[], datetime],
        fax_code_key: bytes | None = None,
    ) -> None:
        """``fax_code_key``: hashes verification codes; None when faxing is not set up."""
        self.audit = audit
        self.settings = settings
        self.clock = clock
        self.fax_code_key = fax_code_key

    # -- the verification conversation ----------------------------------------

    def verify(self, session: Session, asker: Asker, *, direct: bool) -> Reply:
        """Start (or continue) the asker's request; ``direct``: the room is a one-to-one DM."""
        shared = asker.room_id == self.verifiers_room(session) or is_verified_room(
            session, asker.room_id
        )
        if not direct or shared:
            raise Refused(NOT_IN_A_DM)
        now = self.clock()
        remember_contact(session, asker.user_id, asker.room_id, now)
        request = verification.open_request(session, asker.user_id)
        if request is not None and request.state == verification.AWAITING_ATTESTATION:
            return Reply(f"Your request #{request.id} is with the credentialing team; I will "
                         "tell you here when they have decided. !cancel withdraws it.")
        if request is not None:
            verification.move_to_room(request, asker.room_id)
            return Reply(f"Let's continue request #{request.id}. "
                         + verification.QUESTIONS[request.state])
        request = verification.start_request(session, asker.user_id, asker.room_id, now)
        self.audit.record(session, actor=asker.user_id, action="verification.start",
                          record_type="verification_request", record_id=str(request.id))
        current = active_credential(session, asker.user_id, now)
        renewal = (f"You are verified until {current.expires_at.date().isoformat()}; this "
                   "renews it. " if current else "")
        return Reply(f"{renewal}Verification request #{request.id}: I will ask three "
                     "questions, one at a time, then a verifier confirms your identity. "
                     "!cancel stops at any time. "
                     + verification.QUESTIONS[verification.AWAITING_NPI])

    def cancel(self, session: Session, asker: Asker) -> Reply:
        request = verification.open_request(session, asker.user_id)
        if request is None:
            raise Refused("You have no verification request in progress; !verify starts one.")
        verification.cancel_request(session, request, self.clock())
        self.audit.record(session, actor=asker.user_id, action="verification.cancel",
                          record_type="verification_request", record_id=str(request.id))
        return Reply(f"Request #{request.id} is cancelled. Send !verify whenever you want to "
                     "start again.")

    def answer(self, session: Session, asker: Asker, text: str, *,
               direct: bool = False) -> Reply | None:
        """The answer to the pending question.

        When nothing here awaits one: in a one-to-one chat (``direct``) what
        the asker can do next, so no message to the bot goes unanswered;
        elsewhere None (a group room's chatter is not addressed to the bot).
        """
        request = verification.open_request(session, asker.user_id)
        if (request is None or request.room_id != asker.room_id
                or request.state not in verification.ANSWERING):
            return self._what_next(session, asker, request) if direct else None
        try:
            check_line(text.strip(), "your answer", MAX_ANSWER_CHARS)
        except UnsafeText as unsafe:  # not counted as an attempt: nothing was checked
            return Reply(f"{unsafe}. {verification.QUESTIONS[request.state]}")
        step = verification.apply_answer(
            request, text, lambda npi: find_provider(session, npi),
            max_attempts=self.settings.max_attempts, now=self.clock(),
        )
        session.flush()
        if step.state == verification.CLOSED:
            self.audit.record(session, actor=asker.user_id, action="verification.close",
                              record_type="verification_request", record_id=str(request.id),
                              reason="too many unsuccessful answers")
        if step.state != verification.AWAITING_ATTESTATION:
            return Reply(step.reply)
        self.audit.record(
            session, actor=request.user_id, action="verification.submit",
            record_type="verification_request", record_id=str(request.id),
            details={"npi": request.npi, "licence_state": request.licence_state},
        )
        room = self.verifiers_room(session)
        if room is not None:
            return Reply(step.reply, posts=(self._post_evidence(request, room),))
        log.warning("verification request %s waits: no credentialing room yet", request.id)
        return Reply(step.reply, preface=(NO_VERIFIERS_ROOM,))

    def _what_next(self, session: Session, asker: Asker,
                   request: VerificationRequest | None) -> Reply | None:
        if asker.room_id == self.verifiers_room(session) or is_verified_room(session,
                                                                            asker.room_id):
            return None  # the team, or a new verified room's first member, talking
        if request is not None and request.state == verification.AWAITING_ATTESTATION:
            return Reply(f"Your request #{request.id} is with the credentialing team; I will "
                         "tell you here when they have decided. !cancel withdraws it.")
        credential = active_credential(session, asker.user_id, self.clock())
        if credential is None:
            return Reply("I verify clinicians for this Curbside network. Send !verify to "
                         "start: I ask for your NPI, your legal name and a state licence, "
                         "then a verifier confirms your identity. !help lists my commands.")
        return Reply(f"You are verified as {credential.display_name}. Try !room create "
                     "<name> for a verified room, !find <specialty> <state> for colleagues, "
                     "or !help for everything I do.")

    # -- verification by fax ------------------------------------------------------

    def _answering(self, session: Session, asker: Asker) -> VerificationRequest:
        request = verification.open_request(session, asker.user_id)
        if request is None or request.room_id != asker.room_id:
            raise Refused("You have no verification request in progress in this chat; "
                          "!verify starts one.")
        return request

    def fax_code(self, session: Session, asker: Asker) -> Reply:
        """``!faxcode``: a one-time code for the request, faxed to the NPI's NPPES practice
        fax once this commits."""
        if self.fax_code_key is None:
            raise Refused("Verification by fax is not set up on this server; a verifier "
                          "confirms your identity instead.")
        request = self._answering(session, asker)
        if request.faxed_code_confirmed_at is not None:
            raise Refused(f"Your practice fax is already confirmed for request #{request.id}.")
        provider = find_provider(session, request.npi or "")
        try:
            fax = fax_code.issue(
                session, request, provider.practice_fax if provider else None,
                key=self.fax_code_key, limits=self.settings.fax_code_limits, now=self.clock())
        except fax_code.FaxCodeRefused as refused:
            raise Refused(str(refused)) from None
        self.audit.record(session, actor=asker.user_id, action="verification.fax_code.issue",
                          record_type="verification_request", record_id=str(request.id),
                          details={"code": fax.code_id})
        minutes = self.settings.fax_code_minutes
        return Reply(f"I am faxing a one-time code to the practice fax NPPES lists for NPI "
                     f"{request.npi}: {display(fax.number)}. Send it back here as "
                     f"!code <the 6 digits> within {minutes} minutes.", fax=fax)

    def confirm_code(self, session: Session, asker: Asker, typed: str) -> Reply:
        """``!code 123456``: the code faxed to the practice, typed back by the clinician."""
        if self.fax_code_key is None:
            raise Refused("Verification by fax is not set up on this server.")
        request = self._answering(session, asker)
        try:
            problem = fax_code.confirm(session, request, typed, key=self.fax_code_key,
                                       limits=self.settings.fax_code_limits, now=self.clock())
        except fax_code.FaxCodeRefused as refused:
            raise Refused(str(refused)) from None
        outcome = "wrong" if problem else "confirmed"
        self.audit.record(session, actor=asker.user_id,
                          action=f"verification.fax_code.{outcome}",
                          record_type="verification_request", record_id=str(request.id))
        if problem is not None:
            return Reply(problem)
        posts: tuple[Post, ...] = ()
        room = self.settings.verifiers_room
        if request.state == verification.AWAITING_ATTESTATION and room:
            posts = (Post(room, f"Verification request #{request.id} from {request.user_id}: "
                                f"{fax_code.EVIDENCE} (NPI {request.npi})."),)
        return Reply("Thank you: the code matches, so your practice fax is confirmed. The "
                     "credentialing team sees it with your request.", posts=posts)

    # -- verifiers --------------------------------------------------------------

    def verifiers_room(self, session: Session) -> str | None:
        """The credentialing room (configured, or created by the gatekeeper), if any."""
        return credentialing.room_of(session, self.settings.verifiers_room)

    @staticmethod
    def _post_evidence(request: VerificationRequest, room_id: str) -> Post:
        """The request's evidence for the credentialing room, and the record that it went."""
        request.posted_room_id = room_id
        plain, markup = attestation.evidence_for_verifiers(request)
        return Post(room_id, plain, markup)

    def post_waiting(self, session: Session, room_id: str) -> list[Post]:
        """Requests made while no credentialing room existed, for the room that now does."""
        return [self._post_evidence(request, room_id)
                for request in credentialing.unposted(session)]

    def _verifier(self, session: Session, asker: Asker) -> None:
        if asker.room_id != self.verifiers_room(session):
            raise Refused(NOT_A_VERIFIER_ROOM)

    def _shown_here(self, session: Session, asker: Asker,
                    request_id: int) -> VerificationRequest:
        """The request, if it awaits attestation and its evidence was posted in this room."""
        try:
            request = attestation.pending(session, request_id)
        except attestation.AttestationError as error:
            raise Refused(str(error)) from error
        if request.posted_room_id != asker.room_id:
            raise Refused(f"Request #{request_id} has not been shown in this room, so it cannot "
                          "be decided here. !pending lists the requests posted here.")
        return request

    def pending(self, session: Session, asker: Asker) -> Reply:
        """``!pending``: what waits for the team, each with its evidence."""
        self._verifier(session, asker)
        waiting = credentialing.pending_in(session, asker.room_id)
        if not waiting:
            return Reply("No verification requests are waiting.")
        plains, markups = zip(*(attestation.evidence_for_verifiers(r) for r in waiting),
                              strict=True)
        head = f"{len(waiting)} request(s) waiting:"
        return Reply(head + "\n\n" + "\n\n".join(plains),
                     f"<p>{head}</p>" + "<hr>".join(markups))

    def approve(self, session: Session, asker: Asker, request_id: int, checked: str) -> Reply:
        self._verifier(session, asker)
        request = self._shown_here(session, asker, request_id)
        try:
            credential = attestation.approve(
                session, self.audit, request, verifier=asker.user_id, checked=checked,
                now=self.clock(), days=self.settings.credential_days,
            )
        except attestation.AttestationError as error:
            raise Refused(str(error)) from error
        return Reply(
            f"Approved #{request_id}: {verified_name(session, request.user_id)} is verified until "
            f"{credential.expires_at.date().isoformat()} (recorded: {checked}).",
            posts=(Post(request.room_id, attestation.approval_text(credential)),),
        )

    def deny(self, session: Session, asker: Asker, request_id: int, reason: str) -> Reply:
        self._verifier(session, asker)
        request = self._shown_here(session, asker, request_id)
        attestation.deny(session, self.audit, request, verifier=asker.user_id, reason=reason,
                         now=self.clock())
        told = (f"Your verification request #{request_id} was not approved: {reason}. If you "
                "can resolve this, send !verify to start a new request, or contact your "
                "credentialing team.")
        return Reply(f"Denied #{request_id}; {request.legal_name or request.user_id} "
                     f"({request.user_id}) has been told why.",
                     posts=(Post(request.room_id, told),))

    def revoke(self, session: Session, asker: Asker, user: str, reason: str) -> Reply:
        self._verifier(session, asker)
        if not attestation.revoke(session, self.audit, user, by=asker.user_id, reason=reason,
                      now=self.clock()):
            raise Refused(f"{user} holds no active verification; nothing to revoke.")
        return Reply(f"Revoked {user}. They will be removed from every verified room within "
                     f"{int(self.settings.sweep_interval)} s and told why.", wake_sweep=True)

    # -- verified rooms ---------------------------------------------------------

    def room_creator(self, session: Session, asker: Asker) -> Credential:
        """The asker's credential, if they may create a verified room."""
        credential = active_credential(session, asker.user_id, self.clock())
        if credential is None:
            raise Refused("Only verified clinicians can create verified rooms; send !verify "
                          "first.")
        return credential

    def room_created(self, session: Session, asker: Asker, room_id: str, name: str) -> Reply:
        """Record the room the bot created (and invited the asker to)."""
        admission.record_room(session, self.audit, room_id, asker.user_id, name, self.clock())
        return Reply(f"Created the verified room '{name}' ({room_id}) and invited you. Invite "
                     f"verified colleagues with !invite @colleague {room_id}")

    def invitee(self, session: Session, asker: Asker, room_id: str, user: str, *,
                inviter_joined: bool) -> Credential:
        """The credential ``user`` is invited with, if the asker may invite them; records
        the room's consent (commit it before the invite: the module checks it)."""
        credential = self._admitted(session, user, admission.invite_refusal(
            session, room_id, asker.user_id, user, inviter_joined=inviter_joined))
        admission.record_consent(session, self.audit, room_id, user, asker.user_id,
                                 self.clock())
        return credential

    def join_request(self, session: Session, asker: Asker, room_id: str, *, member: bool
                     ) -> Reply:
        """Put the asker's wish to join ``room_id`` to its owners (a notice in the room)."""
        refusal = admission.join_refusal(session, room_id, asker.user_id, member=member)
        if refusal is not None:
            raise Refused(refusal)
        if joins.pending_for(session, room_id, asker.user_id) is not None:
            raise Refused(f"You have already asked to join {room_id}; its owners have not "
                          "answered yet. I will tell you here when they do.")
        credential = active_credential(session, asker.user_id, self.clock())
        assert credential is not None  # join_refusal requires it
        now = self.clock()
        request = joins.open_request(session, room_id, asker.user_id, asker.room_id, now,
                                     timedelta(hours=self.settings.join_request_hours))
        self.audit.record(session, actor=asker.user_id, action="verified_room.join_request",
                          record_type="verified_room", record_id=room_id,
                          details={"request": request.id})
        owners = admission.owners(session, room_id)
        until = request.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        ask = (f"{asker.user_id} ({credential.display_name}) asks to join this room "
               f"(request #{request.id}). Owners: answer with !accept {request.id} or "
               f"!decline {request.id} <reason>, or react 👍 or 👎 to this message. "
               f"The request lapses on {until}.")
        markup = (f"{pill(asker.user_id)} (<b>{html.escape(credential.display_name)}</b>) asks "
                  f"to join this room (request #{request.id}). Owners "
                  f"({', '.join(pill(o) for o in owners)}): answer with "
                  f"<code>!accept {request.id}</code> or <code>!decline {request.id} "
                  f"&lt;reason&gt;</code>, or react 👍 or 👎 to this message. The request "
                  f"lapses on {until}.")
        notice = Post(room_id, ask, markup, mentions=tuple(owners),
                      on_sent=f"{JOIN_NOTICE_SENT}:{request.id}")
        return Reply(f"I asked the owners of {room_id} (request #{request.id}). You will be "
                     "invited only if one of them agrees; I will tell you here either way.",
                     posts=(notice,))

    def join_notice_sent(self, session: Session, request_id: int, event_id: str) -> None:
        joins.noted(session, request_id, event_id)

    def reaction_answer(self, session: Session, notice_event_id: str, key: str
                        ) -> tuple[int, bool] | None:
        """(request id, accept?) when a reaction answers a join request's notice."""
        request = joins.by_notice(session, notice_event_id)
        clean = key.strip()
        if request is None or clean not in joins.ACCEPT_KEYS | joins.DECLINE_KEYS:
            return None
        return request.id, clean in joins.ACCEPT_KEYS

    def _owned_request(self, session: Session, asker: Asker, request_id: int) -> JoinRequest:
        request = session.get(JoinRequest, request_id)
        if request is None:
            raise Refused(f"There is no join request #{request_id}.")
        if not admission.is_owner(session, request.room_id, asker.user_id):
            raise Refused(f"Only the owners of {request.room_id} decide who joins it.")
        return request

    def accept_join(self, session: Session, asker: Asker, request_id: int
                    ) -> tuple[JoinRequest, Credential]:
        """An owner agrees: the request is accepted and the room's consent recorded (commit
        before the bot invites). Returns the request and the credential to invite with."""
        request = self._owned_request(session, asker, request_id)
        now = self.clock()
        credential = active_credential(session, request.user_id, now)
        try:
            if credential is None:
                joins.decide(session, request, joins.JoinState.DECLINED, asker.user_id, now,
                             "no longer verified")
                raise Refused(f"{request.user_id} is no longer verified; request "
                              f"#{request_id} is closed.")
            joins.decide(session, request, joins.JoinState.ACCEPTED, asker.user_id, now)
        except joins.JoinError as error:
            raise Refused(str(error)) from error
        admission.record_consent(session, self.audit, request.room_id, request.user_id,
                                 asker.user_id, now)
        return request, credential

    def join_accepted(self, session: Session, asker: Asker, request: JoinRequest,
                      credential: Credential) -> Reply:
        """After the invite: tell the room and the requester."""
        told = (f"{asker.user_id} agreed to your request to join {request.room_id}; I have "
                "invited you. Accept the invite in your client to enter the room.")
        return Reply(f"Accepted request #{request.id}: invited {credential.user_id} as "
                     f"{credential.display_name}.", posts=(Post(request.dm_room_id, told),))

    def decline_join(self, session: Session, asker: Asker, request_id: int, reason: str
                     ) -> Reply:
        request = self._owned_request(session, asker, request_id)
        try:
            joins.decide(session, request, joins.JoinState.DECLINED, asker.user_id,
                         self.clock(), reason or None)
        except joins.JoinError as error:
            raise Refused(str(error)) from error
        self.audit.record(session, actor=asker.user_id, action="verified_room.join_decline",
                          record_type="verified_room", record_id=request.room_id,
                          details={"request": request.id})
        why = f": {reason}" if reason else "."
        told = (f"Your request #{request.id} to join {request.room_id} was declined by its "
                f"owners{why} You have not been invited.")
        return Reply(f"Declined request #{request.id}; {request.user_id} has been told.",
                     posts=(Post(request.dm_room_id, told),))

    def expire_join_requests(self, session: Session) -> list[Post]:
        """Requests nobody answered in time lapse; each requester is told."""
        now = self.clock()
        told = []
        for request in joins.due(session, now):
            try:
                joins.decide(session, request, joins.JoinState.EXPIRED, "gatekeeper", now)
            except joins.JoinError:
                continue  # an owner answered meanwhile
            told.append(Post(request.dm_room_id,
                             f"Your request #{request.id} to join {request.room_id} lapsed: "
                             "none of its owners answered in time. You have not been invited; "
                             f"!join {request.room_id} asks again."))
        return told

    def add_owner(self, session: Session, asker: Asker, room_id: str, user: str) -> Reply:
        refusal = admission.add_owner(session, self.audit, room_id, user, asker.user_id,
                                      self.clock())
        if refusal is not None:
            raise Refused(refusal)
        return Reply(f"{user} is now an owner of {room_id}: they decide join requests with "
                     "you.")

    def set_invites_by(self, session: Session, asker: Asker, room_id: str, who: str) -> Reply:
        refusal = admission.set_invites_by(session, self.audit, room_id, asker.user_id, who)
        if refusal is not None:
            raise Refused(refusal)
        return Reply(f"From now on only {'owners' if who == INVITES_BY_OWNERS else 'members'} "
                     f"of {room_id} can have me invite someone.")

    def upgrade_room(self, session: Session, asker: Asker, room_id: str) -> None:
        """An owner asks for an upgrade: announce it to the module (commit before upgrading)."""
        if not is_verified_room(session, room_id):
            raise Refused(f"{room_id} is not a verified room I manage.")
        if not admission.is_owner(session, room_id, asker.user_id):
            raise Refused("Only the room's owners can have it upgraded.")
        admission.announce_upgrade(session, self.audit, room_id, asker.user_id, self.clock())

    def room_upgraded(self, session: Session, asker: Asker, room_id: str, successor: str,
                      members: list[str]) -> list[Credential]:
        """Record the successor as verified with the old room's owners, settings and
        (verified) members consented; returns whom to re-invite (commit first)."""
        now = self.clock()
        credentials = [c for c in (active_credential(session, m, now) for m in members)
                       if c is not None]
        admission.record_successor(session, self.audit, room_id, successor,
                                   [c.user_id for c in credentials], now)
        return credentials

    def _admitted(self, session: Session, user: str, refusal: str | None) -> Credential:
        if refusal is not None:
            raise Refused(refusal)
        credential = active_credential(session, user, self.clock())
        assert credential is not None  # the refusals above require it
        return credential

    def invited(
        self, session: Session, asker: Asker, room_id: str, credential: Credential
    ) -> Reply:
        """Record the invite the bot sent with ``credential``'s verified name."""
        self.audit.record(session, actor=asker.user_id, action="verified_room.invite",
                          record_type="verified_room", record_id=room_id,
                          details={"user_id": credential.user_id})
        return Reply(f"Invited {credential.display_name} ({credential.user_id}).")

    def name_note(self, session: Session, room_id: str, user_id: str, shown: object) -> Post | None:
        """A note for a verified room whose member ``user_id`` joined showing another name."""
        if not is_verified_room(session, room_id):
            return None
        credential = active_credential(session, user_id, self.clock())
        if credential is None or shown == credential.display_name:
            return None
        return Post(
            room_id,
            f"Note: {user_id} appears here as '{shown}'. Their verified identity is "
            f"{credential.display_name}.",
            f"Note: {pill(user_id)} appears here as '{html.escape(str(shown))}'. Their "
            f"verified identity is <b>{html.escape(credential.display_name)}</b>.",
            mentions=(user_id,),
        )

    # -- blocks and the directory -----------------------------------------------

    def block(self, session: Session, asker: Asker, user: str) -> Reply:
        admission.add_block(session, self.audit, asker.user_id, user, self.clock())
        return Reply(f"I will not invite you to rooms on behalf of {user}. !unblock {user} "
                     "undoes it.")

    def unblock(self, session: Session, asker: Asker, user: str) -> Reply:
        if not admission.remove_block(session, self.audit, asker.user_id, user):
            raise Refused(f"{user} was not blocked.")
        return Reply(f"{user} can invite you again.")

    def find(self, session: Session, asker: Asker, specialty: str, state: str) -> Reply:
        now = self.clock()
        if active_credential(session, asker.user_id, now) is None:
            raise Refused("The directory is for verified clinicians; send !verify first.")
        found = directory.find_colleagues(session, specialty, state, now=now,
                                          limit=self.settings.directory_limit)
        if not found:
            raise Refused(f"No verified colleagues found for '{specialty}' licensed in "
                          f"{state.upper()}. Try a broader term (e.g. 'medicine') or another "
                          "state.")
        lines = [f"{c.display_name} — {c.user_id}" for c in found]
        markup = "<ul>" + "".join(
            f"<li>{html.escape(c.display_name)} — {pill(c.user_id)}</li>" for c in found
        ) + "</ul>"
        return Reply(f"Verified colleagues ({len(found)}):\n" + "\n".join(lines),
                     f"<p>Verified colleagues ({len(found)}):</p>{markup}")

    def set_listed(self, session: Session, asker: Asker, *, listed: bool) -> Reply:
        if not directory.set_listed(session, self.audit, asker.user_id, listed=listed,
                                    now=self.clock()):
            raise Refused("Only verified clinicians are listed; send !verify first.")
        return Reply("You are listed in the directory again." if listed
                     else "You are hidden from the directory; !directory show lists you again.")
