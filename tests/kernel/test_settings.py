"""Settings load from YAML, take secrets from the environment, name bad keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from curbside.settings import SettingsError, load_settings, parse_settings, render_new_config


@pytest.fixture
def fresh() -> dict[str, object]:
    loaded = yaml.safe_load(render_new_config())
    assert isinstance(loaded, dict)
    return loaded


def test_fresh_config_is_valid_and_relative_paths_resolve(fresh: dict[str, object]) -> None:
    settings = parse_settings(fresh, Path("/srv/curbside"))
    assert settings.data_dir == Path("/srv/curbside/data")
    assert settings.database.url == "sqlite:////srv/curbside/data/curbside.db"
    assert settings.bot_user_id("gatekeeper") == "@gatekeeper:curbside.localhost"


def test_fresh_config_keeps_the_examples_comments() -> None:
    assert "# Wraps the data keys that encrypt PHI fields" in render_new_config()


def test_older_config_without_new_keys_still_loads(fresh: dict[str, object]) -> None:
    older = {key: fresh[key] for key in ("homeserver", "database", "secrets", "bots", "bridge")}
    settings = parse_settings(older, Path("/srv"))
    assert settings.logging.level == "INFO"


def test_secret_from_environment(fresh: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURBSIDE_TEST_AUDIT_KEY", "a" * 40)
    fresh["secrets"]["audit_key"] = "${CURBSIDE_TEST_AUDIT_KEY}"  # type: ignore[index]
    assert parse_settings(fresh, Path("/srv")).secrets.audit_key == "a" * 40


def test_unset_environment_variable_is_named(fresh: dict[str, object]) -> None:
    fresh["secrets"]["pickle_key"] = "${CURBSIDE_TEST_SURELY_UNSET}"  # type: ignore[index]
    with pytest.raises(SettingsError, match=r"secrets\.pickle_key: environment variable"):
        parse_settings(fresh, Path("/srv"))


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("homeserver", "url", "ftp://x", "homeserver.url"),
        ("database", "url", "mysql://x", "database.url"),
        ("secrets", "master_key", "c2hvcnQ", "secrets.master_key"),
        ("homeserver", "mode", "cloud", "homeserver.mode"),
        ("homeserver", "colour", "blue", "homeserver.colour"),
    ],
)
def test_invalid_values_name_the_key(
    fresh: dict[str, object], section: str, key: str, value: str, message: str
) -> None:
    fresh[section][key] = value  # type: ignore[index]
    with pytest.raises(SettingsError, match=message.replace(".", r"\.")):
        parse_settings(fresh, Path("/srv"))


def test_unfilled_secrets_point_at_init(tmp_path: Path) -> None:
    path = tmp_path / "config" / "curbside.yaml"
    path.parent.mkdir()
    path.write_text("database:\n  url: sqlite:///x.db\n")
    with pytest.raises(SettingsError, match="curbside init"):
        load_settings(path)


def test_not_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "curbside.yaml"
    path.write_text("homeserver: [unclosed\n")
    with pytest.raises(SettingsError, match="not valid YAML"):
        load_settings(path)


def test_newer_config_version_is_refused(fresh: dict[str, object]) -> None:
    fresh["config_version"] = 99
    with pytest.raises(SettingsError, match="upgrade Curbside"):
        parse_settings(fresh, Path("/srv"))
