"""The ledger's own rules: an unknown actor is refused, a wrong answer fails the attempt."""

from __future__ import annotations

import pytest

from tests.adversary.ledger import Attempt, Outcome, summary_rows


def test_unknown_actor_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown actor"):
        Attempt("rule", "somebody", "GET /", 403)


def test_summary_counts_unexpected_and_server_errors() -> None:
    refused = Attempt("r", "member", "PUT x", 403, "M_FORBIDDEN")
    rows = summary_rows([
        Outcome(refused, 403, "M_FORBIDDEN"),
        Outcome(refused, 200, None),
        Outcome(Attempt("w", "anonymous", "POST /hook", 400), 500, None),
    ])
    assert rows == [("anonymous", 1, 0, 1, 1), ("member", 2, 1, 1, 0), ("all", 3, 1, 2, 1)]
