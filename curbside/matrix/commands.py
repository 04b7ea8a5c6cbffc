"""Declaring what a bot answers to.

A bot class lists its commands, command groups and event handlers with
decorators::

    class Desk(Bot):
        @command("refer", help="refer a case", args=[Arg("case"), Arg("to")])
        async def refer(self, ctx: Context, case: str, to: str) -> None: ...

        referral = group("referral", help="start a referral, or see its paste format")

        @referral.subcommand("new", help="start a referral in a thread")
        async def referral_new(self, ctx: Context) -> None: ...

        @on_event("m.room.member")
        async def member(self, ctx: Context) -> None: ...

Reading the class is reading the bot's whole interface; ``!help`` is generated
from the same declarations, and parsing errors produce an answer that says
what was wrong and how to fix it. A bare group (``!referral``) answers with its
sub-commands, an unknown one with a guess and the list.

The words after the command bind to its arguments from left to right:

- an :class:`Arg` takes one word; ``"quoted words"`` are one word, while an
  apostrophe inside a word (``Lee's``) is just a letter;
- with ``matches=`` (a regular expression) it takes the longest run of words
  that matches, so ``+1 555 123 4567`` can be one number, and refuses a value
  that does not match;
- with ``rest=True`` it takes every word the arguments after it leave; those
  must each have a matcher, so a word meant for the rest that lands in one of
  them (``!find family medicine``) is refused rather than silently misread.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from curbside.text import UnsafeText, check_text

PREFIX = "!"
#: A command is a line or two; longer bodies are refused before they are parsed
#: (binding ``matches=`` arguments tries every run of words: quadratic in words).
MAX_COMMAND_CHARS = 2000
MAX_COMMAND_WORDS = 64

Handler = Callable[..., Awaitable[None]]
H = TypeVar("H", bound=Handler)

_COMMAND_ATTR = "__curbside_command__"
_EVENT_ATTR = "__curbside_event_types__"

# A quoted word ends at its closing quote before a space; anything else is a plain word.
_WORD = re.compile(r"""(["'])(.*?)\1(?=\s|$)|(\S+)""", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Arg:
    """One positional argument (see the module docstring for how words bind)."""

    name: str
    help: str = ""
    convert: Callable[[str], Any] = str
    required: bool = True
    rest: bool = False
    matches: str | None = None

    @property
    def usage(self) -> str:
        text = f"<{self.name}{'…' if self.rest else ''}>"
        return text if self.required else f"[{text[1:-1]}]"

    def accepts(self, value: str) -> bool:
        return self.matches is None or re.fullmatch(self.matches, value) is not None


@dataclass(frozen=True, slots=True)
class CommandGroup:
    """``!name sub …``: a command whose first word picks one of its sub-commands."""

    name: str
    help: str

    def subcommand(self, name: str, *, help: str, args: Sequence[Arg] = ()) -> Callable[[H], H]:
        """Declare a method as the handler of ``!group name``."""
        return _declare(CommandSpec(f"{self.name} {_word(name)}", help, tuple(args), group=self))


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    help: str
    args: tuple[Arg, ...] = ()
    attr: str = ""
    group: CommandGroup | None = None

    @property
    def usage(self) -> str:
        return " ".join([PREFIX + self.name, *(a.usage for a in self.args)])

    def error(self, problem: str) -> CommandError:
        return CommandError(f"{PREFIX}{self.name}: {problem} — usage: {self.usage}")


class CommandError(Exception):
    """A command the bot could not accept; ``message`` is what the sender is told.

    The parser raises it, and so may a handler that refuses: the router answers
    the sender with the message (what the handler wrote before stays written).
    Not a frozen dataclass: Python must be able to set ``__traceback__`` on it
    when it passes through a ``contextmanager`` such as ``session_scope``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Invocation:
    spec: CommandSpec
    kwargs: dict[str, Any] = field(default_factory=dict)


def command(name: str, *, help: str, args: Sequence[Arg] = ()) -> Callable[[H], H]:
    """Declare a method as the handler of ``!name``."""
    return _declare(CommandSpec(_word(name), help, tuple(args)))


def group(name: str, *, help: str) -> CommandGroup:
    """Declare ``!name`` as a group; its sub-commands are declared with ``.subcommand``."""
    return CommandGroup(_word(name), help)


def on_event(*event_types: str) -> Callable[[H], H]:
    """Declare a method as a handler of room events of the given types."""

    def mark(func: H) -> H:
        setattr(func, _EVENT_ATTR, tuple(event_types))
        return func

    return mark


def _word(name: str) -> str:
    if not name or name != name.lower() or any(c.isspace() for c in name):
        raise ValueError(f"{PREFIX}{name}: a command name is one lower-case word")
    return name


def _declare(spec: CommandSpec) -> Callable[[H], H]:
    _check_args(spec.name, spec.args)

    def mark(func: H) -> H:
        setattr(func, _COMMAND_ATTR, spec)
        return func

    return mark


def _check_args(name: str, args: Sequence[Arg]) -> None:
    seen_optional = seen_rest = False
    for arg in args:
        if arg.matches is not None:
            re.compile(arg.matches)  # a bad pattern fails where it is declared
        if seen_rest and (arg.rest or arg.matches is None or not arg.required):
            raise ValueError(f"!{name}: only the last argument may take the rest, unless "
                             "those after it are required and have matchers")
        if seen_optional and arg.required:
            raise ValueError(f"!{name}: a required argument cannot follow an optional one")
        seen_optional = seen_optional or not arg.required
        seen_rest = seen_rest or arg.rest


@dataclass(frozen=True)
class CommandTable:
    """The commands, groups and event handlers declared on a bot class."""

    commands: dict[str, CommandSpec]
    event_handlers: dict[str, tuple[str, ...]]
    groups: dict[str, CommandGroup] = field(default_factory=dict)

    @classmethod
    def of(cls, bot_class: type) -> CommandTable:
        commands: dict[str, CommandSpec] = {}
        events: dict[str, list[str]] = {}
        for klass in reversed(bot_class.__mro__):
            for attr, value in vars(klass).items():
                spec = getattr(value, _COMMAND_ATTR, None)
                if isinstance(spec, CommandSpec):
                    commands[spec.name] = dataclasses.replace(spec, attr=attr)
                for event_type in getattr(value, _EVENT_ATTR, ()):
                    handlers = events.setdefault(event_type, [])
                    if attr not in handlers:
                        handlers.append(attr)
        groups = {s.group.name: s.group for s in commands.values() if s.group is not None}
        clash = sorted(groups.keys() & commands.keys())
        if clash:
            raise ValueError(f"{bot_class.__name__}: {PREFIX}{clash[0]} is both a command and "
                             "a group")
        return cls(commands, {t: tuple(h) for t, h in events.items()}, groups)

    def parse(self, body: str) -> Invocation | None:
        """The command in a message body; None when the body is not a command.

        Raises :class:`CommandError` for an unknown, malformed, over-long or
        control-character-carrying command. A bare ``!`` is ``!help`` when the
        bot has it; ``! word`` points at the command the sender probably meant.
        """
        if not body.startswith(PREFIX):
            return None
        text = body[len(PREFIX):]
        if not text.strip() and "help" in self.commands:
            return Invocation(self.commands["help"])
        if not text or text[0].isspace():
            raise CommandError(self._bare_prefix_hint(text))
        try:
            check_text(text, "the command", MAX_COMMAND_CHARS)
        except UnsafeText as unsafe:
            raise CommandError(f"{unsafe}. Send {PREFIX}help for the commands.") from None
        first, remainder = _split_first(text)
        name = first.lower()
        found = self.groups.get(name)
        if found is not None:
            return self._parse_sub(found, remainder)
        spec = self.commands.get(name)
        if spec is None:
            guess = difflib.get_close_matches(name, self._top_level(), n=1, cutoff=0.6)
            hint = f" — did you mean {PREFIX}{guess[0]}?" if guess else ""
            raise CommandError(f"unknown command {PREFIX}{_cut(name)}{hint} Send {PREFIX}help")
        return Invocation(spec, _bind(spec, remainder))

    def group_usage(self, name: str) -> str:
        """The sub-commands of group ``name``, one ``usage — help`` line each, as declared."""
        return "\n".join(f"{s.usage} — {s.help}" for s in self._subcommands(name))

    def help_text(self) -> tuple[str, str]:
        """Plain and HTML help listing every command and sub-command with its usage."""
        specs = sorted(self.commands.values(), key=lambda s: s.name)
        plain = ["Commands:"] + [f"{s.usage} — {s.help}" for s in specs]
        html = "<p>Commands:</p><ul>" + "".join(
            f"<li><code>{_esc(s.usage)}</code> — {_esc(s.help)}</li>" for s in specs
        ) + "</ul>"
        return "\n".join(plain), html

    def _parse_sub(self, parent: CommandGroup, text: str) -> Invocation:
        first, remainder = _split_first(text)
        listing = self.group_usage(parent.name)
        if not first:
            raise CommandError(f"{PREFIX}{parent.name}: {parent.help}\n{listing}")
        sub = first.lower()
        spec = self.commands.get(f"{parent.name} {sub}")
        if spec is None:
            known = [s.name.split(" ", 1)[1] for s in self._subcommands(parent.name)]
            guess = difflib.get_close_matches(sub, known, n=1, cutoff=0.6)
            hint = f" — did you mean {PREFIX}{parent.name} {guess[0]}?" if guess else ""
            raise CommandError(
                f"unknown command {PREFIX}{parent.name} {_cut(sub)}{hint}\n{listing}"
            )
        return Invocation(spec, _bind(spec, remainder))

    def _subcommands(self, name: str) -> list[CommandSpec]:
        return [s for s in self.commands.values() if s.group is not None and s.group.name == name]

    def _top_level(self) -> list[str]:
        return [n for n, s in self.commands.items() if s.group is None] + list(self.groups)

    def _bare_prefix_hint(self, text: str) -> str:
        words = text.split()
        name = words[0].lower() if words else ""
        if name in self._top_level():
            return f"did you mean {PREFIX}{name}? (no space after {PREFIX}) Send {PREFIX}help"
        return f"Send {PREFIX}help for the commands I understand."


def _split_first(text: str) -> tuple[str, str]:
    """The first word of ``text`` and what follows it."""
    parts = text.strip().split(None, 1)
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0] if parts else "", "")


def _words(text: str) -> list[str]:
    words = []
    for match in _WORD.finditer(text):
        quoted, plain = match.group(2), match.group(3)
        if plain is not None and plain[0] in "\"'":
            raise ValueError("No closing quotation")
        words.append(quoted if plain is None else plain)
    return words


def _take(arg: Arg, left: list[str], after: int) -> int:
    """How many of the words ``left`` ``arg`` takes, ``after`` arguments still to come."""
    if not left:
        return 0
    if arg.rest:
        return max(1, len(left) - after)
    if arg.matches is None:
        return 1
    return next((n for n in range(len(left), 0, -1) if arg.accepts(" ".join(left[:n]))), 1)


def _bind(spec: CommandSpec, text: str) -> dict[str, Any]:
    try:
        words = _words(text)
    except ValueError as exc:
        raise spec.error(str(exc)) from exc
    if len(words) > MAX_COMMAND_WORDS:
        raise spec.error(f"too many words ({len(words)}, at most {MAX_COMMAND_WORDS})")
    kwargs: dict[str, Any] = {}
    at = 0
    for i, arg in enumerate(spec.args):
        taken = _take(arg, words[at:], len(spec.args) - i - 1)
        hint = f" ({arg.help})" if arg.help else ""
        if taken == 0:
            if arg.required:
                raise spec.error(f"missing {arg.usage}{hint}")
            continue
        value = " ".join(words[at:at + taken])
        at += taken
        if not arg.accepts(value):
            raise spec.error(f"{arg.usage} cannot be {_cut(value)!r}{hint}")
        try:
            kwargs[arg.name] = arg.convert(value)
        except ValueError as exc:
            raise spec.error(f"{arg.usage} {exc}") from exc
    if at < len(words):
        raise spec.error("too many arguments")
    return kwargs


def _cut(word: str, limit: int = 40) -> str:
    """A word typed by the sender, short enough to echo (control characters never get here)."""
    return word if len(word) <= limit else word[:limit] + "…"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
