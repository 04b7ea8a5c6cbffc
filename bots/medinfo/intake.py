"""The request conversation as a table-driven state machine.

    question ─► phi_review? ─► product? ─► urgency ─► response ─► consent ─► share
             ─► confirm (the clinician sees exactly what the sponsor receives) ─► ready

Each row of :data:`STEPS` says when the step is needed, what to ask, and how an
answer changes the draft. The next state is always the first needed step, so
answers given up front (``!medinfo urgency=routine response=chat consent=yes
share=no <question>``) skip their questions, and a rephrased question goes back
through the firewall on its own. ``cancel`` ends the conversation at any step.

Rule — unsolicited by construction: the desk only answers what it is asked.
No prompt here proposes a topic or a product; when a product must be chosen,
the choices are exactly the products the clinician's own words named, and when
none was named the clinician is asked to name it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bots.medinfo.products import Catalog, Offer
from screening import identifiers

URGENCIES = ("urgent", "routine")
RESPONSES = {"chat": "in this chat", "letter": "a written response letter (PDF)",
             "call": "a call from the sponsor's medical team"}
READY, CANCELLED = "ready", "cancelled"
_YES = {"yes", "y", "i agree", "agree", "ok", "consent", "i consent"}
_NO = {"no", "n", "decline", "i decline"}
_OPTION = re.compile(r"^\s*(urgency|response|consent|share)=(\S+)\s*", re.I)


@dataclass(frozen=True, slots=True)
class Choice:
    sponsor_key: str
    sponsor_name: str
    brand: str
    generic: str
    therapeutic_area: str

    @classmethod
    def of(cls, offer: Offer) -> Choice:
        p = offer.product
        return cls(offer.sponsor_key, offer.sponsor_name, p.brand, p.generic, p.therapeutic_area)

    @property
    def label(self) -> str:
        return f"{self.brand} ({self.generic}) — {self.sponsor_name}"


@dataclass(frozen=True, slots=True)
class Draft:
    """Everything the conversation has gathered; sealed at rest (it holds the question)."""

    question: str
    phi_cleared: bool = False
    product: Choice | None = None
    choices: tuple[Choice, ...] = ()
    urgency: str | None = None
    response: str | None = None
    consent: bool | None = None
    share_identity: bool | None = None
    confirmed: bool = False
    cancelled: bool = False

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["product"] = None if self.product is None else _choice_json(self.product)
        data["choices"] = [_choice_json(c) for c in self.choices]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        product = data.pop("product")
        choices = data.pop("choices")
        return cls(**data, product=None if product is None else Choice(**product),
                   choices=tuple(Choice(**c) for c in choices))


def _choice_json(choice: Choice) -> dict[str, str]:
    return {k: getattr(choice, k) for k in choice.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class Answer:
    """The result of one answer: the new draft, or what was wrong with the answer."""

    draft: Draft
    error: str | None = None


Preview = Callable[[Draft], str]


@dataclass(frozen=True, slots=True)
class Step:
    state: str
    needed: Callable[[Draft], bool]
    prompt: Callable[[Draft, Preview], str]
    answer: Callable[[Draft, str, Catalog], Answer]


# -- the steps -----------------------------------------------------------------


def _phi_prompt(draft: Draft, _: Preview) -> str:
    findings = identifiers.find(draft.question)
    return (
        f"Before this goes to a sponsor: your question seems to contain patient identifiers "
        f"({identifiers.describe(findings)}). Sponsors must never receive them. Send the "
        "question again in other words, or reply `redact` to send it as:\n\n"
        f"{identifiers.redact(draft.question, findings)}"
    )


def _phi_answer(draft: Draft, text: str, catalog: Catalog) -> Answer:
    if text.strip().lower() == "redact":
        return Answer(replace(draft, question=identifiers.redact(draft.question),
                              phi_cleared=True))
    rephrased = with_products(replace(draft, question=text.strip(), product=None, choices=()),
                              catalog)
    return Answer(replace(rephrased, phi_cleared=not identifiers.find(text)))


def _product_prompt(draft: Draft, _: Preview) -> str:
    if draft.choices:
        listed = "\n".join(f"{i}. {c.label}" for i, c in enumerate(draft.choices, 1))
        return (
            "The product you named is marketed by more than one sponsor. Which one is your "
            f"question about? Reply with the number or the sponsor's name:\n{listed}"
        )
    return ("Which product is your question about? Name it as you would — brand or generic "
            "name.")


def _product_answer(draft: Draft, text: str, catalog: Catalog) -> Answer:
    if draft.choices:
        picked = _pick(draft.choices, text)
        if picked is None:
            return Answer(draft, "Reply with one of the numbers or sponsor names listed.")
        return Answer(replace(draft, product=picked, choices=()))
    named = with_products(draft, catalog, text)
    if named.product is None and not named.choices:
        return Answer(draft, "I do not know that product. Check the spelling, or name the "
                             "brand or generic name as on the label.")
    return Answer(named)


def _pick(choices: tuple[Choice, ...], text: str) -> Choice | None:
    reply = text.strip().lower()
    if reply.isdigit() and 1 <= int(reply) <= len(choices):
        return choices[int(reply) - 1]
    matches = [c for c in choices
               if reply in (c.sponsor_name.lower(), c.sponsor_key, c.brand.lower())
               or c.sponsor_name.lower().startswith(reply)]
    return matches[0] if len(matches) == 1 else None


def _keyword(options: tuple[str, ...], error: str, field_name: str
             ) -> Callable[[Draft, str, Catalog], Answer]:
    def answer(draft: Draft, text: str, _: Catalog) -> Answer:
        word = text.strip().lower().rstrip(".!")
        if word not in options:
            return Answer(draft, error)
        return Answer(replace(draft, **{field_name: word}))  # type: ignore[arg-type]

    return answer


def _yes_no(field_name: str, error: str) -> Callable[[Draft, str, Catalog], Answer]:
    def answer(draft: Draft, text: str, _: Catalog) -> Answer:
        word = text.strip().lower().rstrip(".!")
        if word in _YES:
            return Answer(replace(draft, **{field_name: True}))  # type: ignore[arg-type]
        if word in _NO:
            return Answer(replace(draft, **{field_name: False}))  # type: ignore[arg-type]
        return Answer(draft, error)

    return answer


def _consent_answer(draft: Draft, text: str, catalog: Catalog) -> Answer:
    result = _yes_no("consent", "Reply `yes` or `no`.")(draft, text, catalog)
    if result.draft.consent is False:
        return Answer(replace(result.draft, cancelled=True))
    return result


def _confirm_answer(draft: Draft, text: str, _: Catalog) -> Answer:
    word = text.strip().lower().rstrip(".!")
    if word in {"send", "confirm", "yes"}:
        return Answer(replace(draft, confirmed=True))
    return Answer(draft, "Reply `send` to send it exactly as shown, or `cancel`.")


STEPS: tuple[Step, ...] = (
    Step("phi_review", lambda d: not d.phi_cleared, _phi_prompt, _phi_answer),
    Step("product", lambda d: d.product is None, _product_prompt, _product_answer),
    Step("urgency", lambda d: d.urgency is None,
         lambda d, _: "How urgent is this? Reply `urgent` (a patient is waiting) or `routine`.",
         _keyword(URGENCIES, "Reply `urgent` or `routine`.", "urgency")),
    Step("response", lambda d: d.response is None,
         lambda d, _: "How would you like the answer? Reply `chat` (here, privately), "
                      "`letter` (a written response letter as PDF) or `call`.",
         _keyword(tuple(RESPONSES), "Reply `chat`, `letter` or `call`.", "response")),
    Step("consent", lambda d: d.consent is None,
         lambda d, _: "Do you consent to be contacted by the sponsor's medical team about "
                      "this question? Reply `yes` or `no` (no ends the request).",
         _consent_answer),
    Step("share", lambda d: d.share_identity is None,
         lambda d, _: "Shall the sponsor see your name and NPI? Reply `yes`, or `no` to be "
                      "shown only as a verified clinician of your specialty and state.",
         _yes_no("share_identity", "Reply `yes` or `no`.")),
    Step("confirm", lambda d: not d.confirmed,
         lambda d, preview: "This is exactly what the sponsor will receive:\n\n"
                            f"{preview(d)}\n\nReply `send` to send it, or `cancel`.",
         _confirm_answer),
)
_BY_STATE = {s.state: s for s in STEPS}


# -- driving the table -----------------------------------------------------------


def with_products(draft: Draft, catalog: Catalog, text: str | None = None) -> Draft:
    """Recognise products in ``text`` (default: the question) and fill the draft."""
    mentions = catalog.recognise(draft.question if text is None else text)
    offers = list(dict.fromkeys(c for m in mentions for c in m.candidates))
    choices = tuple(Choice.of(o) for o in offers)
    if not choices:
        return draft
    if len({c.sponsor_key for c in choices}) == 1:
        return replace(draft, product=choices[0], choices=())
    return replace(draft, product=None, choices=choices)


def start(text: str, catalog: Catalog) -> Draft:
    """A new draft from the first message; leading ``key=value`` options pre-answer steps."""
    options: dict[str, str] = {}
    while match := _OPTION.match(text):
        options[match.group(1).lower()] = match.group(2).lower()
        text = text[match.end():]
    question = text.strip()
    draft = Draft(question=question, phi_cleared=not identifiers.find(question))
    draft = with_products(draft, catalog)
    if options.get("urgency") in URGENCIES:
        draft = replace(draft, urgency=options["urgency"])
    if options.get("response") in RESPONSES:
        draft = replace(draft, response=options["response"])
    if options.get("consent") in _YES:
        draft = replace(draft, consent=True)
    if "share" in options and options["share"] in _YES | _NO:
        draft = replace(draft, share_identity=options["share"] in _YES)
    return draft


def state_of(draft: Draft) -> str:
    if draft.cancelled:
        return CANCELLED
    return next((s.state for s in STEPS if s.needed(draft)), READY)


def prompt(draft: Draft, preview: Preview) -> str:
    return _BY_STATE[state_of(draft)].prompt(draft, preview)


def answer(draft: Draft, text: str, catalog: Catalog) -> Answer:
    """Apply the clinician's reply to the current step."""
    if text.strip().lower() in {"cancel", "!cancel"}:
        return Answer(replace(draft, cancelled=True))
    state = state_of(draft)
    if state in (READY, CANCELLED):
        return Answer(draft)
    return _BY_STATE[state].answer(draft, text, catalog)

