"""The identifier screen and the PV screen on the medinfo sets (moved from tests/medinfo)."""

from __future__ import annotations

from screening import adverse_events, decision, identifiers
from tests.medinfo import ae_cases, phi_cases
from tests.medinfo.scoring import ae_score, phi_score


def test_phi_firewall_recall_and_precision_on_the_labelled_set() -> None:
    score = phi_score()
    print(f"\nPHI firewall on {len(phi_cases.CASES)} questions: "
          f"recall {score.recall:.3f} precision {score.precision:.3f}")
    assert score.recall >= 0.98
    assert score.precision >= 0.9


def test_the_labelled_sets_are_big_enough_to_mean_something() -> None:
    with_ids = sum(1 for _, ids in phi_cases.CASES if ids)
    assert len(phi_cases.CASES) >= 100 and 40 <= with_ids <= 60
    labels = [label for _, label in ae_cases.CASES]
    assert labels.count(ae_cases.AE) >= 25 and labels.count(ae_cases.NONE) >= 25


def test_redaction_leaves_no_identifier_behind() -> None:
    for text, labelled in phi_cases.CASES:
        redacted = identifiers.redact(text)
        assert identifiers.find(redacted) == []
        for identifier in labelled:
            assert identifier not in redacted, (identifier, redacted)


def test_the_clinician_is_told_the_kinds_never_the_values() -> None:
    text = "Mr. Okafor, DOB 04/02/1948, phone 617-555-0143"
    description = identifiers.describe(identifiers.find(text))
    assert description == "a patient name, a date (birth or other full date), a phone number"
    assert "Okafor" not in description and "0143" not in description


def test_ae_screen_recall_and_precision_on_the_labelled_set() -> None:
    adverse, complaint = ae_score()
    print(f"\nAE screen on {len(ae_cases.CASES)} messages: AE recall {adverse.recall:.3f} "
          f"precision {adverse.precision:.3f}; complaint recall {complaint.recall:.3f} "
          f"precision {complaint.precision:.3f}")
    assert adverse.recall >= 0.95 and adverse.precision >= 0.9
    assert complaint.recall >= 0.9 and complaint.precision >= 0.9


def test_negation_is_not_an_event() -> None:
    result = decision.screen("My patient on Cardiova: no side effects so far.",
                              names_product=True)
    assert not result.adverse_event
    assert result.negated == ("side effects",)


def test_negation_scope_ends_at_but() -> None:
    result = decision.screen("My patient had no nausea but developed a rash on Cardiova.",
                              names_product=True)
    assert result.adverse_event and result.events == ("rash",) and result.negated == ("nausea",)


def test_seriousness_and_patient_details() -> None:
    text = "A 94-year-old woman on Glucera was hospitalized with hypoglycemia."
    result = decision.screen(text, names_product=True)
    assert result.adverse_event and result.seriousness == ("hospitalisation",)
    assert adverse_events.patient_age_and_sex(text) == ("90+", "female")
