"""Declaring what a bot answers to.

A bot class lists its commands and event handlers with decorators::

    class Desk(Bot):
        @command("refer", help="refer a case", args=[Arg("case"), Arg("to")])
        async def refer(self, ctx: Context, case: str, to: str) -> None: ...

        @on_event("m.room.member")
        async def member(self, ctx: Context) -> None: ...

Reading the class is reading the bot's whole interface; ``!help`` is generated
from the same declarations, and parsing errors produce an answer that says
what was wrong and how to fix it.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

PREFIX = "!"

Handler = Callable[..., Awaitable[None]]
H = TypeVar("H", bound=Handler)

_COMMAND_ATTR = "__curbside_command__"
_EVENT_ATTR = "__curbside_event_types__"


@dataclass(frozen=True, slots=True)
class Arg:
    """One positional argument. ``rest=True`` takes the remaining words as one string."""

    name: str
    help: str = ""
    convert: Callable[[str], Any] = str
    required: bool = True
    rest: bool = False

    @property
    def usage(self) -> str:
        text = f"<{self.name}{'…' if self.rest else ''}>"
        return text if self.required else f"[{text[1:-1]}]"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    help: str
    args: tuple[Arg, ...] = ()
    attr: str = ""

    @property
    def usage(self) -> str:
        return " ".join([PREFIX + self.name, *(a.usage for a in self.args)])


@dataclass(frozen=True, slots=True)
class CommandError(Exception):
    """A command the bot could not accept; ``message`` is what the sender is told."""

    message: str


@dataclass(frozen=True, slots=True)
class Invocation:
    spec: CommandSpec
    kwargs: dict[str, Any] = field(default_factory=dict)


def command(name: str, *, help: str, args: Sequence[Arg] = ()) -> Callable[[H], H]:
    """Declare a method as the handler of ``!name``."""
    _check_args(name, args)

    def mark(func: H) -> H:
        setattr(func, _COMMAND_ATTR, CommandSpec(name, help, tuple(args)))
        return func

    return mark


def on_event(*event_types: str) -> Callable[[H], H]:
    """Declare a method as a handler of room events of the given types."""

    def mark(func: H) -> H:
        setattr(func, _EVENT_ATTR, tuple(event_types))
        return func

    return mark


def _check_args(name: str, args: Sequence[Arg]) -> None:
    seen_optional = False
    for i, arg in enumerate(args):
        if arg.rest and i != len(args) - 1:
            raise ValueError(f"!{name}: only the last argument may take the rest")
        if seen_optional and arg.required:
            raise ValueError(f"!{name}: a required argument cannot follow an optional one")
        seen_optional = seen_optional or not arg.required


@dataclass(frozen=True)
class CommandTable:
    """The commands and event handlers declared on a bot class."""

    commands: dict[str, CommandSpec]
    event_handlers: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, bot_class: type) -> CommandTable:
        commands: dict[str, CommandSpec] = {}
        events: dict[str, list[str]] = {}
        for klass in reversed(bot_class.__mro__):
            for attr, value in vars(klass).items():
                spec = getattr(value, _COMMAND_ATTR, None)
                if isinstance(spec, CommandSpec):
                    commands[spec.name] = CommandSpec(spec.name, spec.help, spec.args, attr)
                for event_type in getattr(value, _EVENT_ATTR, ()):
                    handlers = events.setdefault(event_type, [])
                    if attr not in handlers:
                        handlers.append(attr)
        return cls(commands, {t: tuple(h) for t, h in events.items()})

    def parse(self, body: str) -> Invocation | None:
        """The command in a message body; None when the body is not a command.

        Raises :class:`CommandError` for an unknown or malformed command.
        """
        if not body.startswith(PREFIX) or len(body) == len(PREFIX) or body[1].isspace():
            return None
        first, _, remainder = body[len(PREFIX):].partition(" ")
        name = first.strip().lower()
        spec = self.commands.get(name)
        if spec is None:
            guess = difflib.get_close_matches(name, list(self.commands), n=1, cutoff=0.6)
            hint = f" — did you mean {PREFIX}{guess[0]}?" if guess else ""
            raise CommandError(f"unknown command {PREFIX}{name}{hint} Send {PREFIX}help")
        return Invocation(spec, _bind(spec, remainder.strip()))

    def help_text(self) -> tuple[str, str]:
        """Plain and HTML help listing every command with its usage."""
        specs = sorted(self.commands.values(), key=lambda s: s.name)
        plain = ["Commands:"] + [f"{s.usage} — {s.help}" for s in specs]
        html = "<p>Commands:</p><ul>" + "".join(
            f"<li><code>{_esc(s.usage)}</code> — {_esc(s.help)}</li>" for s in specs
        ) + "</ul>"
        return "\n".join(plain), html


def _bind(spec: CommandSpec, text: str) -> dict[str, Any]:
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise CommandError(f"{PREFIX}{spec.name}: {exc} — usage: {spec.usage}") from exc
    kwargs: dict[str, Any] = {}
    for i, arg in enumerate(spec.args):
        if arg.rest:
            value: str | None = " ".join(words[i:]) or None
            words = words[:i]
        else:
            value = words[i] if i < len(words) else None
        if value is None:
            if arg.required:
                raise CommandError(
                    f"{PREFIX}{spec.name}: missing {arg.usage} — usage: {spec.usage}"
                )
            continue
        try:
            kwargs[arg.name] = arg.convert(value)
        except ValueError as exc:
            raise CommandError(
                f"{PREFIX}{spec.name}: {arg.usage} {exc} — usage: {spec.usage}"
            ) from exc
    if not any(a.rest for a in spec.args) and len(words) > len(spec.args):
        raise CommandError(f"{PREFIX}{spec.name}: too many arguments — usage: {spec.usage}")
    return kwargs


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
