"""Declaring a bot's background work beside its commands.

    class Desk(Bot):
        @periodic("escalations", every="escalation_interval")
        async def escalate(self, job: Job) -> None: ...

        @feed("fax-verdicts", source="fax_changes_after")
        async def fax_verdict(self, job: Job, change: JobChange) -> None: ...

        @on_sent("referral-packet")
        async def packet_sent(self, job: Job, argument: str, sent: SentEvent) -> None: ...

Reading the class is reading everything the bot does, on its own as well as
in answer to someone. The runtime's :class:`~curbside.matrix.supervisor.Supervisor`
starts each one, runs it in a transaction it commits (effects, queued
messages and the feed cursor together), restarts it with backoff after a
failure, and moves a feed item that keeps failing aside with an audit row and
an operator notice — a loop never dies silently.

``every`` (and a feed's ``poll``) is seconds, or the name of an attribute of
the bot holding them (so an interval can come from the bot's options).
``source`` names a method of the bot, ``(after: int, limit: int) ->
Sequence[item]``, returning items with an increasing integer ``seq`` above
``after`` in commit order. A periodic pass over many records hands each to
:meth:`~curbside.matrix.supervisor.Supervisor.each`, so one bad record is
moved aside as a feed item is instead of failing every pass.

The owner need not be a :class:`~curbside.matrix.bot.Bot`: the fax bridge's
relay declares its feeds the same way and runs them on a Supervisor of its
own (with no poster: it has no Matrix account, its portals post as their puppets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from curbside.matrix.posting import Poster

F = TypeVar("F", bound=Callable[..., Any])
_JOB_ATTR = "__curbside_job__"


class FeedItem(Protocol):
    @property
    def seq(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    every: float | str
    attr: str = ""


@dataclass(frozen=True, slots=True)
class Feed:
    name: str
    source: str
    poll: float | str = 1.0
    attr: str = ""


@dataclass(frozen=True, slots=True)
class SentHook:
    name: str
    attr: str = ""


JobSpec = Periodic | Feed | SentHook


@dataclass(frozen=True, slots=True)
class SentEvent:
    """What the homeserver answered for a queued message that named a hook."""

    room_id: str
    event_id: str


@dataclass
class Job:
    """What a background job gets: its transaction and the way to post in it.

    ``poster`` is None for an owner with no Matrix account of its own (the
    fax bridge's relay): its work posts through the account it speaks as.
    """

    session: Session
    poster: Poster | None

    def post(self, room_id: str, body: str | None = None, html: str | None = None,
             **options: Any) -> str:
        """Queue a message in this job's transaction (see :meth:`Poster.post`)."""
        if self.poster is None:
            raise RuntimeError("this job's owner has no Matrix account to post as")
        return self.poster.post(self.session, room_id, body, html, **options)


def periodic(name: str, *, every: float | str) -> Callable[[F], F]:
    """Run the method every ``every`` seconds (and once at start)."""
    return _mark(Periodic(name, every))


def feed(name: str, *, source: str, poll: float | str = 1.0) -> Callable[[F], F]:
    """Hand the method each item of ``source`` once, in order, from a kept cursor;
    read it again ``poll`` seconds after it was drained (or on a wake)."""
    return _mark(Feed(name, source, poll))


def on_sent(name: str) -> Callable[[F], F]:
    """Run the method when a message posted with ``on_sent="name:argument"`` was sent."""
    if ":" in name:
        raise ValueError("a sent hook's name may not contain ':'")
    return _mark(SentHook(name))


def _mark(spec: JobSpec) -> Callable[[F], F]:
    def mark(func: F) -> F:
        setattr(func, _JOB_ATTR, spec)
        return func

    return mark


@dataclass(frozen=True)
class JobTable:
    """The background work declared on a bot class."""

    periodic: tuple[Periodic, ...]
    feeds: tuple[Feed, ...]
    sent_hooks: dict[str, SentHook]

    @classmethod
    def of(cls, bot_class: type) -> JobTable:
        found: dict[str, JobSpec] = {}
        for klass in reversed(bot_class.__mro__):
            for attr, value in vars(klass).items():
                spec: JobSpec | None = getattr(value, _JOB_ATTR, None)
                if spec is None:
                    continue
                key = f"{'hook' if isinstance(spec, SentHook) else 'job'}:{spec.name}"
                earlier = found.get(key)
                if earlier is not None and earlier.attr != attr:
                    raise ValueError(
                        f"{bot_class.__name__}: {spec.name!r} declared twice "
                        f"({earlier.attr} and {attr})"
                    )
                found[key] = _bound(spec, attr)
        periodic_jobs = tuple(s for s in found.values() if isinstance(s, Periodic))
        feeds = tuple(s for s in found.values() if isinstance(s, Feed))
        hooks = {s.name: s for s in found.values() if isinstance(s, SentHook)}
        return cls(periodic_jobs, feeds, hooks)


def _bound(spec: JobSpec, attr: str) -> JobSpec:
    if isinstance(spec, Periodic):
        return Periodic(spec.name, spec.every, attr)
    if isinstance(spec, Feed):
        return Feed(spec.name, spec.source, spec.poll, attr)
    return SentHook(spec.name, attr)
