"""Products, the intake table, the business calendar and sponsor import — no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.medinfo import intake, service_levels
from bots.medinfo.bot import MedinfoBot
from bots.medinfo.products import Catalog
from bots.medinfo.sponsors import (
    SponsorConfigError,
    import_sponsors,
    load_directory,
    load_sponsors,
)
from curbside.database import make_engine, migrate, session_scope
from tests.medinfo.sponsor_fixtures import directory, write_sponsors

CATALOG = Catalog(directory())


def preview(draft: intake.Draft) -> str:
    return f"PREVIEW {draft.question}"


def test_brand_names_one_sponsor_even_misspelled() -> None:
    mentions = CATALOG.recognise("Can cardiovva be crushed?")
    assert [m.candidates[0].sponsor_key for m in mentions] == ["northwind"]
    assert not mentions[0].ambiguous


def test_a_shared_generic_is_ambiguous_and_ordinary_words_match_nothing() -> None:
    (mention,) = CATALOG.recognise("Any data on velostatin in dialysis?")
    assert mention.ambiguous
    assert {c.product.brand for c in mention.candidates} == {"Cardiova", "Velocor"}
    assert CATALOG.recognise("What is the dose in moderate renal impairment?") == []


def test_brand_with_its_generic_is_one_mention() -> None:
    (mention,) = CATALOG.recognise("Velocor (velostatin) with amiodarone?")
    assert not mention.ambiguous and mention.candidates[0].product.brand == "Velocor"


def walk(draft: intake.Draft, *replies: str) -> intake.Draft:
    for reply in replies:
        result = intake.answer(draft, reply, CATALOG)
        assert result.error is None, (intake.state_of(draft), reply, result.error)
        draft = result.draft
    return draft


def test_the_full_conversation_in_table_order() -> None:
    draft = intake.start("Can Glucera be crushed for a feeding tube?", CATALOG)
    assert intake.state_of(draft) == "urgency"
    draft = walk(draft, "routine", "letter", "yes", "no")
    assert intake.state_of(draft) == "confirm"
    assert "PREVIEW Can Glucera be crushed" in intake.prompt(draft, preview)
    draft = walk(draft, "send")
    assert intake.state_of(draft) == intake.READY
    assert draft.product is not None and draft.product.sponsor_key == "northwind"
    assert (draft.urgency, draft.response, draft.share_identity) == ("routine", "letter", False)


def test_ambiguous_generic_gets_a_question_back_listing_only_what_was_named() -> None:
    draft = intake.start("Is velostatin safe with clarithromycin?", CATALOG)
    assert intake.state_of(draft) == "product"
    question = intake.prompt(draft, preview)
    assert "Cardiova" in question and "Velocor" in question
    assert "Neurexa" not in question and "Glucera" not in question  # never proposed
    wrong = intake.answer(draft, "Acme", CATALOG)
    assert wrong.error is not None
    draft = walk(draft, "Helix")
    assert draft.product is not None and draft.product.brand == "Velocor"


def test_no_product_named_asks_the_clinician_to_name_it() -> None:
    draft = intake.start("What is the dose in renal impairment?", CATALOG)
    assert "Which product" in intake.prompt(draft, preview)
    assert intake.answer(draft, "aspirin", CATALOG).error is not None
    draft = walk(draft, "neurexa")
    assert draft.product is not None and draft.product.brand == "Neurexa"


def test_identifiers_must_be_rephrased_or_redacted() -> None:
    draft = intake.start("Mr. Okafor, DOB 04/02/1948, on Cardiova: rash?", CATALOG)
    assert intake.state_of(draft) == "phi_review"
    text = intake.prompt(draft, preview)
    assert "[NAME]" in text and "[DATE]" in text
    still = walk(draft, "Mr. Okafor again, on Cardiova")
    assert intake.state_of(still) == "phi_review"
    redacted = walk(draft, "redact")
    assert intake.state_of(redacted) == "urgency" and "Okafor" not in redacted.question
    rephrased = walk(draft, "A man in his 70s on Cardiova has a rash; known?")
    assert intake.state_of(rephrased) == "urgency"


def test_declining_consent_or_cancel_ends_the_request() -> None:
    draft = intake.start("Neurexa in pregnancy?", CATALOG)
    assert intake.state_of(walk(draft, "urgent", "chat", "no")) == intake.CANCELLED
    assert intake.state_of(walk(draft, "cancel")) == intake.CANCELLED


def test_options_up_front_skip_their_questions_and_the_draft_round_trips() -> None:
    draft = intake.start("urgency=urgent response=chat consent=yes share=no Velocor dose?",
                         CATALOG)
    assert draft.question == "Velocor dose?" and intake.state_of(draft) == "confirm"
    assert intake.Draft.from_json(draft.to_json()) == draft


# -- business calendar ------------------------------------------------------------

HOURS = directory().get("northwind").hours  # type: ignore[union-attr]
CAL = service_levels.BusinessCalendar(HOURS)


def at(text: str) -> datetime:
    """A New York wall-clock time as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=CAL.zone).astimezone(UTC)


def test_business_hours_skip_nights_weekends_and_holidays() -> None:
    # Thu 24 Dec 2026 15:00 + 4h: 2h on Thursday, Fri 25 Dec is a holiday → Mon 28th 11:00.
    assert CAL.due(at("2026-12-24T15:00"), "4h") == at("2026-12-28T11:00")
    # Saturday counts from Monday's opening.
    assert CAL.due(at("2026-11-28T10:00"), "4h") == at("2026-11-30T13:00")


def test_business_days_keep_the_time_of_day() -> None:
    assert CAL.due(at("2026-11-26T10:30"), "2d") == at("2026-11-30T10:30")
    assert CAL.due(at("2026-11-26T20:00"), "2d") == at("2026-12-01T09:00")


def test_review_reminds_once_then_escalates_once() -> None:
    routed, due = at("2026-11-30T09:00"), at("2026-11-30T13:00")
    review = service_levels.review
    assert review("r", routed, due, routed + timedelta(hours=2), reminded=False,
                  escalated=False) is None
    assert review("r", routed, due, at("2026-11-30T12:00"), reminded=False,
                  escalated=False) == service_levels.Nudge("r", "remind")
    assert review("r", routed, due, at("2026-11-30T12:30"), reminded=True,
                  escalated=False) is None
    assert review("r", routed, due, due, reminded=True,
                  escalated=False) == service_levels.Nudge("r", "escalate")
    assert review("r", routed, due, due, reminded=True, escalated=True) is None


# -- sponsors -----------------------------------------------------------------------


def test_import_stores_sponsors_and_reimport_replaces(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    migrate(engine, MedinfoBot.version_locations())
    path = write_sponsors(tmp_path / "sponsors.yaml")
    import_sponsors(engine, path)
    import_sponsors(engine, path)
    with session_scope(engine) as session:
        stored = load_directory(session)
    assert {s.key: s for s in stored.sponsors} == {s.key: s for s in directory().sponsors}


def test_a_sales_role_is_refused_at_import(tmp_path: Path) -> None:
    path = write_sponsors(tmp_path / "sponsors.yaml")
    path.write_text(path.read_text().replace("role: pv}", "role: sales}", 1))
    with pytest.raises(SponsorConfigError, match="sales roles are never admitted"):
        load_sponsors(path)


def test_a_sponsored_room_that_is_also_an_msl_or_pv_room_is_refused(tmp_path: Path) -> None:
    path = write_sponsors(tmp_path / "sponsors.yaml")
    path.write_text(path.read_text().replace('sponsored_rooms: ["!npage:north.example"]',
                                             'sponsored_rooms: ["!npv:north.example"]', 1))
    with pytest.raises(SponsorConfigError, match=r"!npv:north\.example is both a sponsored room"):
        load_sponsors(path)


def test_a_missing_target_is_refused(tmp_path: Path) -> None:
    path = write_sponsors(tmp_path / "sponsors.yaml")
    path.write_text(path.read_text().replace("urgent: 8h, ", "", 1))
    with pytest.raises(SponsorConfigError, match="no response target for urgent"):
        load_sponsors(path)


def test_admission_by_room_and_role() -> None:
    north = directory().get("northwind")
    assert north is not None
    assert north.admitted("@msl:north.example", "!nmsl:north.example")
    assert not north.admitted("@pv:north.example", "!nmsl:north.example")
    assert north.admitted("@pv:north.example", "!npv:north.example")
    assert not north.admitted("@msl:helix.example", "!nmsl:north.example")
