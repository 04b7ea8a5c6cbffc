"""The operator rooms' ids are written into the config in place, comments kept."""

from __future__ import annotations

from pathlib import Path

import yaml

from curbside.cli.operator_rooms import with_operator_rooms
from curbside.settings import example_text, parse_settings, render_new_config

ROOMS = {"room": "!ops:curbside.localhost", "fax_inbox_room": "!faxes:curbside.localhost"}


def test_the_example_config_gets_both_rooms_and_keeps_its_comments(tmp_path: Path) -> None:
    text = render_new_config()
    written = with_operator_rooms(text, ROOMS)
    assert written.count("\n") == text.count("\n")
    assert "# Faxes no one on Matrix can receive" in written
    settings = parse_settings(yaml.safe_load(written), tmp_path)
    assert (settings.operator.room, settings.operator.fax_inbox_room) == (
        "!ops:curbside.localhost", "!faxes:curbside.localhost")
    assert "fax:\n  transport: loopback" in written  # the next section is untouched


def test_a_config_without_the_section_gets_it_appended(tmp_path: Path) -> None:
    raw = yaml.safe_load(render_new_config())
    del raw["operator"]
    written = with_operator_rooms(yaml.safe_dump(raw), {"fax_inbox_room": ROOMS["fax_inbox_room"]})
    settings = parse_settings(yaml.safe_load(written), tmp_path)
    assert settings.operator.fax_inbox_room == ROOMS["fax_inbox_room"]
    assert settings.operator.room is None


def test_a_dumped_config_is_edited_where_the_keys_are(tmp_path: Path) -> None:
    dumped = yaml.safe_dump(yaml.safe_load(render_new_config()))
    written = with_operator_rooms(dumped, {"room": ROOMS["room"]})
    settings = parse_settings(yaml.safe_load(written), tmp_path)
    assert settings.operator.room == ROOMS["room"] and settings.operator.fax_inbox_room is None
    assert "operator:" in example_text()
