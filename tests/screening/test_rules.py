"""The screens' rules one behaviour at a time, in the chat forms the issue names."""

from __future__ import annotations

from screening import decision, identifiers, labs, special_situations


def _kinds(text: str) -> dict[str, str]:
    return {text[s.start:s.end]: s.kind for s in identifiers.find(text)}


def test_lab_values_fire_only_outside_their_range() -> None:
    found = [("K 5.9", True), ("K 4.1", False), ("AST 4x ULN", True), ("INR 7.5", True),
             ("INR 2.5", False), ("creatinine doubled", True)]
    for text, abnormal in found:
        assert bool(labs.find(text)) is abnormal, text


def test_lay_words_pronouns_and_outcomes_are_adverse_events() -> None:
    for text in ("one of my pts fainted at home after her second shot of Shingrix",
                 "she was vomiting for days on Ozempic, had to go to urgent care",
                 "he was admitted to the ICU on Eliquis and transfused 2 units"):
        assert decision.screen(text).adverse_event, text


def test_negated_and_general_questions_are_not() -> None:
    for text in ("no bleeding so far on Eliquis", "what is the incidence of pancreatitis "
                 "with Ozempic?", "if a patient got hives on amoxicillin would you stop?"):
        assert not decision.screen(text).adverse_event, text


def test_identifiers_in_chat_forms() -> None:
    kinds = _kinds("pt MK (Walter, 91), seen 14 Mar, Sarah's dad, MRN 00719342, ZIP 02139")
    assert kinds == {"MK": "name", "Walter": "name", "91": "age_over_89", "14 Mar": "date",
                     "Sarah's": "name", "00719342": "mrn", "02139": "address"}
    assert _kinds("Pt born 1931 on Eliquis") == {"1931": "age_over_89"}


def test_look_alikes_are_not_identifiers() -> None:
    for text in ("lot PK4J88 exp 09/2026, NDC 0003-0894-21", "Parkinson's pt, 67F, on Rytary",
                 "call me at my office 617-555-0134", "Norco 10/325, BP 190/110, pain 7/10",
                 "Thanks! - Kevin, PharmD"):
        assert identifiers.find(text) == [], text


def test_redaction_leaves_no_identifier() -> None:
    text = "Linda Park, phone 555-201-4478, 1122 Maple Ave, Dedham MA 02026, DOB 1/30/1960"
    redacted = identifiers.redact(text)
    assert redacted == "[NAME], phone [PHONE], [ADDRESS], DOB [DATE]"


def test_special_situations_and_their_priority() -> None:
    assert special_situations.kinds("found out she is 8 wks pregnant on lisinopril") == (
        "pregnancy",)
    assert special_situations.kinds(
        "we dispensed hydroxyzine instead of hydralazine by mistake to a 12 yo")[:1] == (
        "medication_error",)
    assert special_situations.kinds("is there a pregnancy registry for Aimovig? general q") == ()


def test_the_icsr_criteria_label_but_never_stop_a_report() -> None:
    vague = decision.screen("Ozempic pen: rash after injection")
    assert vague.flagged and vague.validity() == "needs follow-up"
    assert vague.missing_criteria() == ("identifiable patient",)
    full = decision.screen("my pt got a rash after her Ozempic injection")
    assert full.flagged and full.validity() == "valid case"


def test_uncertain_findings_go_as_possible() -> None:
    assert decision.screen("my pt on Eliquis maybe had a nosebleed?").possible
    assert not decision.screen("my pt on Eliquis had a nosebleed").possible
