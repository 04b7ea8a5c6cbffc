"""Hostile input to the bots: commands and referral-form answers, refused with a clear reply.

Requirement → scenario → expected answer. A bot answers in a room, not with
an HTTP status, so these attempts follow the ledger's convention for bot
commands: ``status`` 0, and ``errcode`` the kind of reply the sender must
get — ``"help"`` (the command list), ``"refused"`` (a message saying what was
wrong; never silence, never a stack trace). The parsers and validators are
the bots' own (``CommandTable.of(bot class)``, the referral desk's form);
the scenarios through a real homeserver for the same parsers are in
tests/matrix/ and tests/referral_desk/.
"""

from __future__ import annotations

from datetime import date

import pytest

from bots.gatekeeper.bot import GatekeeperBot
from bots.medinfo.bot import MedinfoBot
from bots.referral_desk import form
from bots.referral_desk.bot import ReferralDeskBot
from bridge.puppet import Puppet
from curbside.matrix.bot import MAX_MESSAGE_CHARS, over_length
from curbside.matrix.commands import CommandError, CommandTable
from referral.validation import FieldError
from tests.adversary.ledger import Attempt, judge

TODAY = date(2026, 12, 2)
ORG = form.Organisation("Harbor Family Medicine", "+16175550100", "+16175550101")
BOTS = {"gatekeeper": GatekeeperBot, "referral desk": ReferralDeskBot, "medinfo": MedinfoBot,
        "fax bridge": Puppet}


def _reply_kind(table: CommandTable, body: str) -> tuple[str, str]:
    """What the bot would answer ``body`` with: ("help" | "refused" | "accepted", text)."""
    try:
        invocation = table.parse(body)
    except CommandError as error:
        return "refused", error.message
    if invocation is not None and invocation.spec.name == "help":
        return "help", ""
    return "accepted", ""


COMMANDS: list[tuple[str, str, str]] = [
    ("a bare !", "!", "help"),
    ("a bare ! and a newline", "!\n", "help"),
    ("a NUL inside a command", "!help\x00", "refused"),
    ("an escape sequence in a command", "!help \x1b[31mred", "refused"),
    ("a right-to-left override in a command", "!help \u202eevil", "refused"),
    ("a 3,000-character command", "!" + "a" * 3000, "refused"),
    ("a command of 200 words", "!help " + "word " * 200, "refused"),
    ("an unclosed quote", '!help "never closed', "refused"),
]


@pytest.mark.parametrize("bot", list(BOTS))
@pytest.mark.parametrize(("case", "body", "kind"), COMMANDS, ids=[c for c, *_ in COMMANDS])
def test_hostile_commands_get_a_clear_reply_from_every_bot(
    bot: str, case: str, body: str, kind: str
) -> None:
    answer, text = _reply_kind(CommandTable.of(BOTS[bot]), body)
    judge(Attempt("bad input gets a clear reply", "verified non-member",
                  f"{bot}: {case}", 0, kind), 0, answer)
    if kind == "refused":
        assert text and "Traceback" not in text
        assert "\x00" not in text and "\u202e" not in text and "\x1b" not in text


def test_a_message_over_the_size_bound_is_refused_by_every_bot() -> None:
    reply = over_length("x" * (MAX_MESSAGE_CHARS + 1))
    judge(Attempt("bounded message sizes", "verified non-member",
                  "a 20,001-character message", 0, "refused"),
          0, "refused" if reply else "accepted")
    assert reply is not None and "at most 20,000" in reply
    assert over_length("x" * MAX_MESSAGE_CHARS) is None


FORM_ANSWERS: list[tuple[str, str, str, str]] = [
    ("patient_name", "a NUL in the patient name", "Maria\x00Lopez", "U+0000"),
    ("patient_name", "a right-to-left override in the patient name",
     "Maria \u202eLopez", "U+202E"),
    ("patient_name", "a newline in the patient name", "Maria\nLopez", "one line"),
    ("patient_name", "a 5,000-character patient name", "M" * 5000, "too long"),
    ("recipient_name", "a bell character in the fax recipient's name", "Beacon\x07", "U+0007"),
    ("reason", "an escape sequence in the reason", "chest pain \x1b[2J", "U+001B"),
    ("clinical_question", "a NUL in the clinical question", "anticoagulate?\x00", "U+0000"),
    ("clinical_question", "a 10,000-character clinical question", "why? " * 2000, "too long"),
    ("icd10_codes", "3,000 ICD-10 codes", ", ".join(["I48.91"] * 3000), "too long"),
    ("icd10_codes", "40 ICD-10 codes", ", ".join(["I48.91"] * 40), "at most 12"),
    ("icd10_codes", "an SQL fragment as ICD-10 codes", "'; DROP TABLE referrals; --",
     "“'; DROP TABLE referrals; --”"),
    ("icd10_codes", "a NUL among the ICD-10 codes", "I48.91,\x00R07.9", "U+0000"),
    ("icd10_codes", "HTML as an ICD-10 code", "<b>I48</b>", "“<b>I48</b>”"),
    ("recipient", "a NUL in a Matrix recipient", "@dana\x00:curbside.example", "“@dana\\x00"),
    ("recipient", "an NPI typed as the fax number", "1234567893", "NPI"),
    ("recipient", "a premium-rate number", "+1 900 555 0123", "premium"),
    ("mrn", "a script tag as the MRN", "<script>alert(1)</script>", "MRN must be"),
    ("member_id", "SQL as the member id", "1 OR 1=1", "member id must be"),
    ("date_of_birth", "a date of birth with a NUL", "1957-03-14\x00", "real date"),
    ("sex", "a sex of 1,000 characters", "f" * 1000, "must be one of"),
]


@pytest.mark.parametrize(("field", "case", "value", "shown"), FORM_ANSWERS,
                         ids=[c for _, c, *_ in FORM_ANSWERS])
def test_hostile_referral_answers_are_refused_with_the_value_escaped(
    field: str, case: str, value: str, shown: str
) -> None:
    question = form.BY_KEY[field]
    try:
        question.validate(value, TODAY)
        kind, message = "accepted", ""
    except FieldError as error:
        kind, message = "refused", error.message
    judge(Attempt("input bounds everywhere", "verified non-member",
                  f"referral desk form: {case}", 0, "refused"), 0, kind)
    assert shown in message
    assert not any(c in message for c in "\x00\x07\x1b\u202e")


def test_a_pasted_referral_reports_every_hostile_field() -> None:
    pasted = "patient: Maria\x00Lopez\ncodes: " + ", ".join(["R07.9"] * 500) + "\nsex: f"
    filled, errors = form.paste(form.Form(), pasted, today=TODAY)
    judge(Attempt("input bounds everywhere", "verified non-member",
                  "referral desk: a pasted referral with a NUL and 500 codes", 0, "refused"),
          0, "refused" if errors else "accepted")
    assert {e.field for e in errors} == {"patient_name", "icd10_codes"}
    assert filled.as_dict() == {"sex": "female"}
