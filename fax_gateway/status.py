"""The outbound fax job's life, written once as a table.

    queued ──start──> rendering ──rendered──> sending ──delivered──> delivered
      ▲                   │                      │
      └──────retry────────┴──────────retry───────┤
                                                 └──give_up──> failed (reason)
    queued / rendering ──cancel──> cancelled
    queued / rendering ──give_up─> failed (deadline passed, bad document)

A job in ``sending`` may already be on the wire at the provider, so it cannot
be cancelled from here; everything else that is not terminal can. The worker
and the outbox ask :func:`next_state` for every change and never decide a
transition themselves, so a refused move is refused everywhere alike.
"""

from __future__ import annotations

import enum


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RENDERING = "rendering"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


class JobEvent(enum.StrEnum):
    START = "start"
    RENDERED = "rendered"
    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "give_up"
    CANCEL = "cancel"


TERMINAL = frozenset({JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED})

#: (state, event) -> next state. Anything not listed is refused.
TRANSITIONS: dict[tuple[JobState, JobEvent], JobState] = {
    (JobState.QUEUED, JobEvent.START): JobState.RENDERING,
    (JobState.QUEUED, JobEvent.GIVE_UP): JobState.FAILED,
    (JobState.QUEUED, JobEvent.CANCEL): JobState.CANCELLED,
    (JobState.RENDERING, JobEvent.RENDERED): JobState.SENDING,
    (JobState.RENDERING, JobEvent.RETRY): JobState.QUEUED,
    (JobState.RENDERING, JobEvent.GIVE_UP): JobState.FAILED,
    (JobState.RENDERING, JobEvent.CANCEL): JobState.CANCELLED,
    (JobState.SENDING, JobEvent.DELIVERED): JobState.DELIVERED,
    (JobState.SENDING, JobEvent.RETRY): JobState.QUEUED,
    (JobState.SENDING, JobEvent.GIVE_UP): JobState.FAILED,
}


class IllegalTransition(Exception):
    """The job cannot take this event in its current state."""

    def __init__(self, state: JobState, event: JobEvent) -> None:
        super().__init__(f"a {state.value} job cannot take '{event.value}'")
        self.state = state
        self.event = event


def next_state(state: JobState, event: JobEvent) -> JobState:
    """The state ``event`` leads to from ``state``, or :class:`IllegalTransition`."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None
