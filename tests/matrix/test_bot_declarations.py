"""Commands are declared on the bot class; parsing answers bad input clearly."""

from __future__ import annotations

import pytest

from curbside.matrix.bot import Bot
from curbside.matrix.commands import Arg, CommandError, CommandTable, command, on_event
from curbside.matrix.content import in_thread, notice, pill
from curbside.matrix.events import IncomingEvent


class Desk(Bot):
    @command("refer", help="refer a case", args=[Arg("case", convert=int), Arg("note", rest=True)])
    async def refer(self, ctx, case: int, note: str) -> None: ...

    @command("status", help="show a case", args=[Arg("case", required=False)])
    async def status(self, ctx, case: str | None = None) -> None: ...

    @on_event("m.room.member")
    async def member(self, ctx) -> None: ...


TABLE = CommandTable.of(Desk)


def test_one_class_lists_everything_the_bot_answers_to():
    assert set(TABLE.commands) == {"ping", "help", "refer", "status"}
    assert TABLE.event_handlers == {"m.room.member": ("member",)}


def test_arguments_are_converted_and_rest_takes_the_remaining_words():
    invocation = TABLE.parse('!refer 42 urgent "cardiology" consult')
    assert invocation is not None
    assert invocation.spec.attr == "refer"
    assert invocation.kwargs == {"case": 42, "note": "urgent cardiology consult"}
    assert TABLE.parse("!status").kwargs == {}  # type: ignore[union-attr]


def test_plain_text_is_not_a_command():
    assert TABLE.parse("hello !ping") is None
    assert TABLE.parse("!") is None
    assert TABLE.parse("! ping") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("!pnig", "unknown command !pnig — did you mean !ping? Send !help"),
        ("!zzzzzz", "unknown command !zzzzzz Send !help"),
        ("!refer", "!refer: missing <case> — usage: !refer <case> <note…>"),
        ("!refer x y", "!refer: <case> invalid literal for int() with base 10: 'x' — usage: "
                       "!refer <case> <note…>"),
        ("!status 1 2", "!status: too many arguments — usage: !status [case]"),
        ('!status "1', "!status: No closing quotation — usage: !status [case]"),
    ],
)
def test_bad_commands_get_an_answer_that_says_how_to_fix_them(body, message):
    with pytest.raises(CommandError) as raised:
        TABLE.parse(body)
    assert raised.value.message == message


def test_help_is_generated_from_the_declarations():
    plain, html = TABLE.help_text()
    assert "!refer <case> <note…> — refer a case" in plain
    assert "<code>!status [case]</code>" in html


def test_argument_specs_are_checked_when_declared():
    with pytest.raises(ValueError, match="only the last"):
        command("x", help="", args=[Arg("a", rest=True), Arg("b")])
    with pytest.raises(ValueError, match="cannot follow"):
        command("x", help="", args=[Arg("a", required=False), Arg("b")])


def test_a_reply_to_a_thread_message_stays_in_that_thread_with_a_fallback():
    threaded = IncomingEvent(
        "$cmd", "!r", "@a:x", "m.room.message", 0,
        {"body": "!ping", "m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}},
    )
    relates = in_thread(notice("pong"), threaded)["m.relates_to"]
    assert relates == {
        "rel_type": "m.thread", "event_id": "$root", "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$cmd"},
    }


def test_notice_carries_html_and_mentions():
    message = notice("hi <you>", f"hi {pill('@a:x', 'Dr <A>')}", mentions=["@a:x", "@a:x"])
    assert message["msgtype"] == "m.notice"
    assert message["formatted_body"] == 'hi <a href="https://matrix.to/#/@a:x">Dr &lt;A&gt;</a>'
    assert message["m.mentions"] == {"user_ids": ["@a:x"]}
    assert notice("a < b")["formatted_body"] == "a &lt; b"
