"""What we detect before words leave a clinician: identifiers, adverse events, complaints.

One module per screen, each a pure function from text to spans
(``screening.spans.Span``: kind, offsets, confidence):

- ``identifiers`` (with ``person_names``): patient identifiers of the Safe Harbor kinds;
- ``adverse_events`` (with ``labs``): events in clinicians' and lay words, lab values;
- ``complaints``: product quality, device and packaging complaints;
- ``special_situations``: pregnancy, overdose, medication error and the other GVP kinds;
- ``products``: any medicinal product mentioned;
- ``context``: medspaCy ConText (negated, hypothetical, uncertain...);
- ``decision``: what goes to pharmacovigilance, as "possible" or not, valid case or not.

No Matrix, no database: every bot, the CLI and the benchmark call the same functions.
"""
