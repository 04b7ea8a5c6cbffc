"""The bridge's pure parts: numbers ⇄ puppets, ``!fax`` parsing, status texts,
documents, what each start-up ping failure is reported as, who may assign a number,
and that the bridge uses only the fax gateway's public API."""

from __future__ import annotations

import ast
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from PIL import Image

from bridge.assignment import Request, Standing, refusal, standing_in
from bridge.errors import ExitCode
from bridge.homeserver import _ping_error
from bridge.numbers import display, number_of, puppet_id
from bridge.portal import as_pdf, status_text
from bridge.puppet import Puppet
from curbside.matrix.commands import CommandError, CommandTable
from fax_gateway import InvalidDocument, JobChange, JobState, Owner, OwnerKind, shared_sandbox
from tests.support.documents import png_bomb

SERVER = "curbside.test"


def test_numbers_and_puppets_map_both_ways() -> None:
    assert puppet_id("+1 (312) 555-0145", SERVER) == "@fax_13125550145:curbside.test"
    assert number_of("@fax_13125550145:curbside.test", SERVER) == "+13125550145"
    assert number_of("@fax_13125550145:elsewhere.org", SERVER) is None
    assert number_of("@lee:curbside.test", SERVER) is None
    assert display("+13125550145") == "+1 312 555 0145"
    assert display("+442071234567") == "+44 20 7123 4567"


FAX = CommandTable.of(Puppet)


def test_fax_commands_take_numbers_with_spaces_and_names_with_apostrophes() -> None:
    parsed = FAX.parse("!fax confirm +1 312 555 0145 Dr. Lee's office")
    assert parsed is not None
    assert (parsed.spec.attr, parsed.kwargs) == (
        "fax_confirm", {"number": "+13125550145", "name": "Dr. Lee's office"})
    with pytest.raises(CommandError) as bare:  # a bare !fax lists what it takes, help first
        FAX.parse("!fax")
    assert bare.value.message.splitlines()[1].startswith("!fax help — ")
    assigned = FAX.parse("!fax assign +13125550145 #cardiology:curbside.test")
    assert assigned is not None and assigned.kwargs == {
        "number": "+13125550145", "target": "#cardiology:curbside.test"}
    with pytest.raises(CommandError, match="'555 1234' is not a fax number"):
        FAX.parse("!fax confirm 555 1234 Dr. Lee")
    with pytest.raises(CommandError, match="<target> cannot be 'cardiology'"):
        FAX.parse("!fax assign +13125550145 cardiology")
    with pytest.raises(CommandError, match="premium-rate"):
        FAX.parse("!fax confirm +1 900 555 0134 Psychic hotline")
    with pytest.raises(CommandError, match="that looks like an NPI, not a fax number"):
        FAX.parse("!fax confirm 1234567893 Dr. Lee")


def _change(state: JobState, reason: str = "") -> JobChange:
    return JobChange(1, "job", state, reason, datetime.now(UTC))


def test_status_texts_say_what_a_sender_needs() -> None:
    number = "+13125550145"
    assert status_text(_change(JobState.QUEUED, "submitted"), number, 3) is None
    assert status_text(_change(JobState.RENDERING), number, 3) is None
    assert status_text(_change(JobState.DELIVERED), number, 3) == \
        "Delivered to +1 312 555 0145 — 3 pages."
    failed = status_text(_change(JobState.FAILED, "busy line, deadline passed"), number, 3)
    assert failed is not None and "busy line, deadline passed" in failed
    retry = status_text(_change(JobState.QUEUED, "no answer"), number, 3)
    assert retry is not None and "no answer" in retry


def test_a_photo_of_a_page_becomes_a_one_page_pdf() -> None:
    buffer = io.BytesIO()
    Image.new("L", (850, 1100), color=255).save(buffer, "PNG")
    pdf = as_pdf(shared_sandbox(), buffer.getvalue())
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert len(document.pages) == 1
    with pytest.raises(InvalidDocument, match="not a PDF"):
        as_pdf(shared_sandbox(), b"not a document")


def test_a_decompression_bomb_photo_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(InvalidDocument, match="pixels; the limit is"):
        as_pdf(shared_sandbox(), png_bomb(20_000))


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (401, {"errcode": "M_UNKNOWN_TOKEN"}, ExitCode.REGISTRATION_NOT_INSTALLED),
        (403, {"errcode": "M_FORBIDDEN"}, ExitCode.REGISTRATION_NOT_INSTALLED),
        (502, {"errcode": "M_BAD_STATUS", "status": 403}, ExitCode.HS_TOKEN_MISMATCH),
        (502, {"errcode": "M_CONNECTION_FAILED"}, ExitCode.BRIDGE_UNREACHABLE),
        (504, {"errcode": "M_CONNECTION_TIMEOUT"}, ExitCode.BRIDGE_UNREACHABLE),
    ],
)
def test_each_ping_failure_names_its_cause(
    status: int, body: dict[str, object], code: ExitCode
) -> None:
    assert _ping_error(status, body, "curbside-fax").code is code


ACTOR, OTHER = "@dana:curbside.test", "@okafor:curbside.test"
PRACTICE = Owner(OwnerKind.ROOM, "!practice:curbside.test")
MEMBER, MODERATOR, OUTSIDER = Standing(True, 0), Standing(True, 50), Standing(False, 0)


def _ask(current: Owner | None, target: Owner, **facts: Any) -> str | None:
    request = Request(actor=ACTOR, number="+1 312 555 0108", current=current, target=target,
                      target_verified=facts.pop("verified", True), **facts)
    return refusal(request, "@faxbridge:curbside.test")


def test_who_may_assign_a_number() -> None:
    me, other = Owner(OwnerKind.MATRIX_USER, ACTOR), Owner(OwnerKind.MATRIX_USER, OTHER)
    # An unassigned number: to yourself, or to a room you joined — nowhere else.
    assert _ask(None, me) is None
    assert _ask(None, PRACTICE, in_target=MEMBER) is None
    assert "assign it to yourself" in (_ask(None, other) or "")
    assert "not a member of that room" in (_ask(None, PRACTICE, in_target=OUTSIDER) or "")
    assert "Invite @faxbridge:curbside.test" in (_ask(None, PRACTICE, in_target=None) or "")
    # An owned number moves only by its owner: the user, or a moderator of the room.
    taken = _ask(other, me) or ""
    assert f"only its current owner can hand it over. Ask {OTHER}" in taken
    assert _ask(me, other) is None
    assert "no active verified credential" in (_ask(me, other, verified=False) or "")
    assert "a moderator" in (_ask(PRACTICE, me, in_current=MEMBER) or "")
    assert _ask(PRACTICE, me, in_current=MODERATOR) is None
    assert _ask(PRACTICE, me, in_current=OUTSIDER) is not None
    desk = _ask(Owner(OwnerKind.REFERRAL_DESK, "desk"), me) or ""
    assert "Ask the Curbside operator" in desk


def test_standing_reads_power_levels_and_privileged_creators() -> None:
    levels = {"users": {OTHER: 100, ACTOR: 50}, "users_default": 0}
    v11 = {"sender": OTHER, "content": {"room_version": "11"}}
    assert standing_in(ACTOR, "join", levels, v11) == Standing(True, 50)
    assert standing_in("@x:curbside.test", "invite", levels, v11) == Standing(False, 0)
    v12 = {"sender": "@creator:curbside.test", "content": {"room_version": "12"}}
    assert standing_in("@creator:curbside.test", "join", levels, v12).moderates
    assert not standing_in("@creator:curbside.test", "join", levels, v11).moderates


BRIDGE = Path(__file__).resolve().parents[2] / "bridge"


def _gateway_reach_through(source: str) -> list[str]:
    """Imports of the gateway's modules (not the package) and uses of its internals."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fax_gateway."):
            found.append(f"from {node.module} import …")
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("fax_gateway.")]
        elif isinstance(node, ast.Attribute) and node.attr in ("inbox", "outbox", "transport") \
                and "gateway" in ast.unparse(node.value):
            found.append(ast.unparse(node))
    return found


def test_the_bridge_uses_only_the_fax_gateways_public_api() -> None:
    sources = {path.relative_to(BRIDGE.parent): path.read_text()
               for path in sorted(BRIDGE.rglob("*.py"))}
    assert len(sources) > 10
    assert {str(path): found for path, source in sources.items()
            if (found := _gateway_reach_through(source))} == {}
    # The check itself sees each kind of reach-through.
    assert len(_gateway_reach_through(
        "from fax_gateway.models import FaxInbound\nimport fax_gateway.routing\n"
        "from fax_gateway import Gateway\nservices.gateway.inbox.router.set_route(n, o)\n"
    )) == 3
