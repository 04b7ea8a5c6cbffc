"""Property-based fuzzing of what parses strangers' input: never an unexpected exception.

The bots' command parsers, the referral form's validators, the medinfo
intake, the webhook's parsers and the document probe, each fed generated
input (hypothesis, derandomised so a run is reproducible, a bounded number
of examples each). The property is the same everywhere: the parser returns a
value or raises its own refusal (CommandError, FieldError, the webhook's
4xx refusal, DocumentRefused) whose message is non-empty — a clear answer —
and nothing else ever escapes.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.gatekeeper import verification
from bots.gatekeeper.bot import GatekeeperBot
from bots.gatekeeper.registry.npi import validate_npi
from bots.medinfo import intake
from bots.medinfo.bot import MedinfoBot
from bots.medinfo.products import Catalog
from bots.medinfo.sponsors import Directory
from bots.referral_desk import form
from bots.referral_desk.bot import ReferralDeskBot
from bridge.puppet import Puppet
from curbside.matrix.commands import CommandError, CommandTable
from curbside.text import UnsafeText, check_text, quoted
from fax_gateway.probe import DocumentRefused, ProbeLimits, probe
from fax_gateway.transports import phaxio
from referral.validation import FieldError, ReferralInvalid, ReferralRequest, validate_referral

FUZZ = settings(derandomize=True, max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
TODAY = date(2026, 12, 2)
NO_SPONSORS = Catalog(Directory(()))
TABLES = [CommandTable.of(bot) for bot in (GatekeeperBot, ReferralDeskBot, MedinfoBot, Puppet)]
WORDS = sorted({word for table in TABLES for name in [*table.commands, *table.groups]
                for word in name.split()})

# Text as people (and attackers) send it: any code point, with the bots' own words
# and the characters that matter to the parsers mixed in.
hostile_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12),
                       st.sampled_from(['"', "'", "\x00", "\u202e", "\n", "+1", "@", "!"])),
             max_size=30).map(" ".join),
)


@FUZZ
@given(body=hostile_text, bot=st.integers(min_value=0, max_value=len(TABLES) - 1))
def test_command_parsers_answer_or_refuse(body: str, bot: int) -> None:
    try:
        TABLES[bot].parse("!" + body)
    except CommandError as error:
        assert error.message.strip()


@FUZZ
@given(key=st.sampled_from(sorted(form.BY_KEY)), value=hostile_text)
def test_referral_form_validators_answer_or_refuse(key: str, value: str) -> None:
    try:
        stored = form.BY_KEY[key].validate(value, TODAY)
    except FieldError as error:
        assert error.message.strip() and error.field
    else:  # what is stored passed the same bounds every field promises
        check_text(stored, key, 8000)


@FUZZ
@given(text=hostile_text)
def test_a_pasted_referral_never_raises(text: str) -> None:
    pasted, errors = form.paste(form.Form(), "patient: x\n" + text, today=TODAY)
    assert all(e.message for e in errors)
    assert set(pasted.as_dict()) <= set(form.BY_KEY)


TEXT_FIELDS = [f.name for f in dataclasses.fields(ReferralRequest)
               if f.name != "consent_attested"]


@FUZZ
@given(fields=st.fixed_dictionaries({name: hostile_text for name in TEXT_FIELDS}),
       consent=st.booleans())
def test_validate_referral_reports_problems_and_raises_nothing_else(
    fields: dict[str, str], consent: bool
) -> None:
    request = ReferralRequest(**fields, consent_attested=consent)  # type: ignore[arg-type]
    try:
        validate_referral(request, today=TODAY)
    except ReferralInvalid as invalid:
        assert invalid.errors and all(e.message for e in invalid.errors)


@FUZZ
@given(first=hostile_text, reply=hostile_text)
def test_medinfo_intake_answers_anything(first: str, reply: str) -> None:
    draft = intake.start(first, NO_SPONSORS)
    answer = intake.answer(draft, reply, NO_SPONSORS)
    assert answer.draft is not None


@FUZZ
@given(answer=hostile_text)
def test_gatekeeper_answer_parsers_answer_anything(answer: str) -> None:
    verification.parse_licence(answer)
    check = validate_npi(answer)
    assert check.ok or check.reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


@FUZZ
@given(raw=st.one_of(hostile_text, json_values.map(json.dumps),
                     st.dictionaries(st.sampled_from(["id", "direction", "from_number",
                                                      "to_number", "num_pages", "status"]),
                                     json_values).map(json.dumps)))
def test_the_webhook_fax_field_is_a_fax_object_or_a_4xx(raw: str) -> None:
    try:
        fax = phaxio.parse_fax_field(raw)
    except phaxio._Refusal as refusal:
        assert refusal.status in (400, 413) and refusal.reason
        return
    status = phaxio.status_from_fax(fax)  # the sent-callback path takes any fax object
    assert status.state is not None


MAGIC = [b"%PDF-1.4\n", b"II*\x00", b"MM\x00*", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]


@FUZZ
@given(magic=st.sampled_from(MAGIC), body=st.binary(max_size=600),
       offsets=st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=4))
def test_the_document_probe_answers_facts_or_a_refusal(
    magic: bytes, body: bytes, offsets: list[int]
) -> None:
    data = magic + b"".join(struct.pack("<I", o) for o in offsets) + body
    try:
        facts = probe(data, ProbeLimits(max_bytes=1 << 20, max_pages=50, max_pixels=10**6))
    except DocumentRefused as refused:
        assert refused.status in (413, 415, 422) and refused.reason
    else:
        assert facts.pages >= 1


@FUZZ
@given(value=st.text(max_size=200))
def test_an_echo_is_inert_and_bounded(value: str) -> None:
    shown = quoted(value)
    assert len(shown) <= 60 * 10 + 3
    try:
        check_text(shown, "echo", 10_000)
    except UnsafeText as unsafe:
        raise AssertionError(f"an echo carried a control character: {unsafe}") from None
