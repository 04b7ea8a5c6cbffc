"""`curbside fax`: an operator faxes a letter, checks on it, and renders a file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from curbside.audit import AuditLog
from curbside.database import session_scope
from curbside.phi import FieldCipher
from fax_gateway import Disposition
from fax_gateway.cli import fax, gateway_for, parse_fax_settings
from fax_gateway.models import FaxJob
from fax_gateway.profile_f import check_tiff_f
from tests.support.documents import make_pdf

from .conftest import AUDIT_KEY


@dataclass
class Host:
    config_path: Path
    settings: Any
    engine: Engine
    cipher: FieldCipher
    audit: AuditLog


@pytest.fixture
def host(engine: Engine, cipher: FieldCipher, audit: AuditLog, tmp_path: Path) -> Host:
    settings = SimpleNamespace(
        data_dir=tmp_path / "data",
        secrets=SimpleNamespace(audit_key=AUDIT_KEY.decode()),
        fax={},
    )
    return Host(tmp_path / "config" / "curbside.yaml", settings, engine, cipher, audit)


def _run(host: Host, *args: str) -> Any:
    return CliRunner(env={"COLUMNS": "200"}).invoke(
        fax, list(args), obj=host, catch_exceptions=False
    )


def test_send_waits_for_delivery_and_never_sends_twice(
    host: Host, engine: Engine, tmp_path: Path
) -> None:
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(make_pdf(pages=2))
    first = _run(host, "send", "--to", "+13125550108", str(letter))
    assert first.exit_code == 0, first.output
    assert "2 page(s)" in first.output and "delivered" in first.output
    job_id = first.output.split()[1].rstrip(":")
    again = _run(host, "send", "--to", "+13125550108", str(letter))
    assert again.output.split()[1].rstrip(":") == job_id
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(FaxJob)) == 1

    listing = _run(host, "status")
    assert job_id in listing.output and "delivered" in listing.output
    detail = _run(host, "status", job_id)
    for state in ("queued", "rendering", "sending", "delivered"):
        assert state in detail.output
    refused = CliRunner().invoke(fax, ["cancel", job_id], obj=host)
    assert refused.exit_code == 1 and "cannot cancel" in refused.output


def test_queue_only_then_cancel(host: Host, tmp_path: Path) -> None:
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(make_pdf())
    queued = _run(host, "send", "--no-wait", "--to", "+13125550108", str(letter))
    assert "queued" in queued.output
    job_id = queued.output.split()[1].rstrip(":")
    cancelled = _run(host, "cancel", job_id)
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output


def test_bad_input_gets_a_clear_answer(host: Host, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("not a pdf")
    result = CliRunner().invoke(fax, ["send", "--to", "+13125550108", str(note)], obj=host)
    assert result.exit_code == 1 and "not a PDF" in result.output
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(make_pdf())
    result = CliRunner().invoke(fax, ["send", "--to", "555-0100", str(letter)], obj=host)
    assert result.exit_code == 1 and "E.164" in result.output


def test_render_writes_conforming_tiff_f(tmp_path: Path) -> None:
    source, target = tmp_path / "in.pdf", tmp_path / "out.tif"
    source.write_bytes(make_pdf(pages=3))
    result = CliRunner().invoke(fax, ["render", str(source), str(target)])
    assert result.exit_code == 0, result.output
    assert "wrote 3 page(s)" in result.output
    assert check_tiff_f(target) == []
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 nothing here")
    result = CliRunner().invoke(fax, ["render", str(broken), str(tmp_path / "x.tif")])
    assert result.exit_code == 1 and "cannot open PDF" in result.output


def test_bad_fax_settings_name_the_problem(host: Host) -> None:
    host.settings.fax = {"transport": "phaxio"}
    result = CliRunner().invoke(fax, ["status"], obj=host)
    assert result.exit_code == 1 and "phaxio section is missing" in result.output
    host.settings.fax = {"routes": [{"number": "12", "owner_kind": "room", "owner_id": "!r:x"}]}
    result = CliRunner().invoke(fax, ["status"], obj=host)
    assert result.exit_code == 1 and "fax.routes.0" in result.output and "E.164" in result.output


def test_received_says_what_became_of_each_fax(host: Host, tmp_path: Path) -> None:
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(make_pdf())
    assert _run(host, "send", "--to", "+13125550108", str(letter)).exit_code == 0
    gateway = gateway_for(host, parse_fax_settings({}))  # type: ignore[arg-type]
    [fax_in] = gateway.received_after(0)  # the loopback line delivers to our inbox

    waiting = _run(host, "received")
    assert re.search(r"not accounted for yet\W+1", waiting.output), waiting.output
    assert fax_in.id in waiting.output and "+1" not in waiting.output

    gateway.dispose(fax_in.id, Disposition.OPERATOR, actor="@ops:test", reason="test")
    settled = _run(host, "received")
    assert re.search(r"operator\W+1", settled.output), settled.output
    assert re.search(r"not accounted for yet\W+0", settled.output)


def test_a_narrow_listing_shows_whole_ids_and_a_start_of_one_is_accepted(
    host: Host, tmp_path: Path
) -> None:
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(make_pdf())
    queued = _run(host, "send", "--no-wait", "--to", "+13125550108", str(letter))
    job_id = queued.output.split()[1].rstrip(":")
    listing = CliRunner(env={"COLUMNS": "80"}).invoke(fax, ["status"], obj=host)
    assert job_id in listing.output, listing.output
    detail = _run(host, "status", job_id[:8])
    assert detail.exit_code == 0 and f"job {job_id}" in detail.output
    unknown = CliRunner().invoke(fax, ["status", "ffffffffzz"], obj=host)
    assert unknown.exit_code == 1 and "no fax job ffffffffzz" in unknown.output
    cancelled = _run(host, "cancel", job_id[:8])
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
