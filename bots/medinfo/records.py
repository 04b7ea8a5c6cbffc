"""The sponsor's request log: one row per request, metadata only, as CSV or JSON.

No question text, no clinician Matrix ID, no patient data: the requester is the
description the sponsor already saw (a verified credential, or the name and NPI
the clinician agreed to share), and every other column is timing and outcome.
Every request that concerned the sponsor is listed: routed ones, and cancelled
ones whose product was the sponsor's or whose safety information reached its
PV (a cancellation does not undo a PV forward).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, or_, select

from bots.medinfo.lifecycle import reference
from bots.medinfo.models import PvReportRow, RequestRow
from bots.medinfo.pv_states import ItemState
from bots.medinfo.states import State
from curbside.database import session_scope

COLUMNS = (
    "reference", "product", "priority", "response_mode", "requester", "state", "received_at",
    "routed_at", "due_at", "claimed_by", "first_answer_at", "closed_at", "outcome", "helped",
    "answers", "follow_ups", "reminded_at", "escalated_at", "pv_forwards",
    "max_seconds_to_pv", "safety_determination", "safety_determined_by",
    "pv_unacknowledged",
)
FORMATS = ("csv", "json")


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def request_log(engine: Engine, sponsor_key: str) -> list[dict[str, Any]]:
    """The sponsor's requests: routed, or cancelled (drafts still in intake are not)."""
    with session_scope(engine) as session:
        pv = dict(session.execute(
            select(PvReportRow.request_id,
                   func.max(PvReportRow.seconds_to_forward))
            .where(PvReportRow.sponsor_key == sponsor_key).group_by(PvReportRow.request_id)
        ).all())
        counts = dict(session.execute(
            select(PvReportRow.request_id, func.count())
            .where(PvReportRow.sponsor_key == sponsor_key).group_by(PvReportRow.request_id)
        ).all())
        waiting = dict(session.execute(
            select(PvReportRow.request_id, func.count())
            .where(PvReportRow.sponsor_key == sponsor_key,
                   PvReportRow.state == ItemState.FORWARDED.value)
            .group_by(PvReportRow.request_id)
        ).all())
        cancelled = RequestRow.state == State.CANCELLED.value
        rows = session.scalars(
            select(RequestRow).where(
                or_(RequestRow.routed_at.is_not(None), cancelled),
                or_(RequestRow.sponsor_key == sponsor_key,
                    cancelled & RequestRow.id.in_(counts.keys())))
            .order_by(RequestRow.received_at)
        ).all()
        return [
            {
                "reference": reference(r), "product": r.product,
                "priority": r.priority, "response_mode": r.response_mode,
                "requester": r.requester, "state": r.state,
                "received_at": _when(r.received_at), "routed_at": _when(r.routed_at),
                "due_at": _when(r.due_at), "claimed_by": r.claimed_by,
                "first_answer_at": _when(r.first_answer_at), "closed_at": _when(r.closed_at),
                "outcome": r.outcome, "helped": r.helped, "answers": r.answers,
                "follow_ups": r.follow_ups, "reminded_at": _when(r.reminded_at),
                "escalated_at": _when(r.escalated_at), "pv_forwards": counts.get(r.id, 0),
                "max_seconds_to_pv": pv.get(r.id),
                "safety_determination": r.safety_determination,
                "safety_determined_by": r.safety_determined_by,
                "pv_unacknowledged": waiting.get(r.id, 0),
            }
            for r in rows
        ]


def export(engine: Engine, sponsor_key: str, fmt: str = "csv") -> str:
    """The request log as text in ``fmt`` ("csv" or "json")."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use csv or json")
    rows = request_log(engine, sponsor_key)
    if fmt == "json":
        return json.dumps({"sponsor": sponsor_key, "requests": rows}, indent=2)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
