"""The adversary suite's ledger: every attempt, what was expected, what came back.

Each adversarial test states an :class:`Attempt` — the rule it tests, the actor
who tries (one of :data:`ACTORS`), the request in a few words and the expected
answer — and passes it with the real answer to :func:`judge`. ``judge`` records
the outcome for the summary table ``make test`` prints at the end of the run
(see ``conftest.py``) and fails the test when the answer was not the expected
one. Reading the state back afterwards (nothing changed) is each test's own
job, because only the test knows what the attempt aimed at.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTORS = (
    "anonymous",
    "unverified user",
    "verified non-member",
    "member",
    "owner",
    "homeserver admin",
    "admin as bot",
)


@dataclass(frozen=True)
class Attempt:
    """One intrusion or hostile input: ``actor`` sends ``request``, ``rule`` must refuse it.

    ``status`` is the expected HTTP status (or, for a bot command, 0 with the
    expected reply kind in ``errcode``), ``errcode`` the Matrix errcode or the
    webhook's error code; None accepts any errcode.
    """

    rule: str
    actor: str
    request: str
    status: int
    errcode: str | None = None

    def __post_init__(self) -> None:
        if self.actor not in ACTORS:
            raise ValueError(f"unknown actor {self.actor!r}; one of {ACTORS}")


@dataclass(frozen=True)
class Outcome:
    attempt: Attempt
    status: int
    errcode: str | None

    @property
    def as_expected(self) -> bool:
        expected = self.attempt
        return self.status == expected.status and (
            expected.errcode is None or self.errcode == expected.errcode
        )

    @property
    def server_error(self) -> bool:
        return self.status >= 500


LEDGER: list[Outcome] = []


def judge(attempt: Attempt, status: int, errcode: str | None = None) -> None:
    """Record the answer to ``attempt`` and fail unless it is the expected one."""
    outcome = Outcome(attempt, status, errcode)
    LEDGER.append(outcome)
    assert outcome.as_expected, (
        f"{attempt.rule}: {attempt.actor} {attempt.request} → {status} {errcode}, "
        f"expected {attempt.status} {attempt.errcode or ''}"
    )


def summary_rows(outcomes: list[Outcome]) -> list[tuple[str, int, int, int, int]]:
    """Per actor: attempts, refused as expected, unexpected answers, 5xx."""
    rows = []
    for actor in ACTORS:
        mine = [o for o in outcomes if o.attempt.actor == actor]
        if mine:
            expected = sum(o.as_expected for o in mine)
            rows.append((actor, len(mine), expected, len(mine) - expected,
                         sum(o.server_error for o in mine)))
    if outcomes:
        expected = sum(o.as_expected for o in outcomes)
        rows.append(("all", len(outcomes), expected, len(outcomes) - expected,
                     sum(o.server_error for o in outcomes)))
    return rows
