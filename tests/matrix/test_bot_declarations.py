"""Commands are declared on the bot class; parsing answers bad input clearly."""

from __future__ import annotations

import pytest

from curbside.matrix.bot import Bot
from curbside.matrix.commands import (
    Arg,
    CommandError,
    CommandTable,
    command,
    group,
    on_event,
)
from curbside.matrix.content import in_thread, notice, pill, reply_thread
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
    assert TABLE.parse("ping !") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("! what now", "Send !help for the commands I understand."),
        ("! ping", "did you mean !ping? (no space after !) Send !help"),
    ],
)
def test_a_bare_prefix_gets_a_pointer_to_help(body, message):
    with pytest.raises(CommandError) as raised:
        TABLE.parse(body)
    assert raised.value.message == message


@pytest.mark.parametrize("body", ["!", "! ", "!\n"])
def test_a_bare_prefix_is_help(body):
    invocation = TABLE.parse(body)
    assert invocation is not None and invocation.spec.name == "help"


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


class Clinic(Bot):
    referral = group("referral", help="start a referral, or see its paste format")

    @referral.subcommand("new", help="start a referral in a thread")
    async def referral_new(self, ctx) -> None: ...

    @referral.subcommand("template", help="show the paste format",
                         args=[Arg("form", required=False)])
    async def referral_template(self, ctx, form: str = "") -> None: ...

    @command("find", help="find colleagues", args=[
        Arg("specialty", rest=True), Arg("state", matches="[A-Za-z]{2}", help="a state, e.g. MA")])
    async def find(self, ctx, specialty: str, state: str) -> None: ...

    @command("confirm", help="name a number", args=[
        Arg("number", matches=r"\+?[0-9]+(?: [0-9]+)*", help="e.g. +1 555 123 4567"),
        Arg("name", rest=True)])
    async def confirm(self, ctx, number: str, name: str) -> None: ...


CLINIC = CommandTable.of(Clinic)
REFERRAL_USAGE = ("!referral new — start a referral in a thread\n"
                  "!referral template [form] — show the paste format")


def _refusal(table: CommandTable, body: str) -> str:
    with pytest.raises(CommandError) as raised:
        table.parse(body)
    return raised.value.message


def test_each_sub_command_has_its_own_handler_and_arguments():
    assert set(CLINIC.groups) == {"referral"}
    new = CLINIC.parse("!referral new")
    assert new is not None and (new.spec.attr, new.kwargs) == ("referral_new", {})
    template = CLINIC.parse("!Referral TEMPLATE short")
    assert template is not None
    assert (template.spec.attr, template.kwargs) == ("referral_template", {"form": "short"})
    assert _refusal(CLINIC, "!referral new now") == \
        "!referral new: too many arguments — usage: !referral new"


def test_a_bare_group_answers_with_its_sub_commands():
    assert _refusal(CLINIC, "!referral") == \
        f"!referral: start a referral, or see its paste format\n{REFERRAL_USAGE}"


def test_an_unknown_sub_command_gets_a_guess_and_the_list():
    assert _refusal(CLINIC, "!referral nwe") == \
        f"unknown command !referral nwe — did you mean !referral new?\n{REFERRAL_USAGE}"
    assert _refusal(CLINIC, "!referral zzzz") == \
        f"unknown command !referral zzzz\n{REFERRAL_USAGE}"
    assert _refusal(CLINIC, "!referal new") == \
        "unknown command !referal — did you mean !referral? Send !help"
    assert _refusal(CLINIC, "! referral") == \
        "did you mean !referral? (no space after !) Send !help"


def test_help_lists_the_sub_commands():
    plain, html = CLINIC.help_text()
    assert "!referral new — start a referral in a thread" in plain
    assert "<code>!referral template [form]</code> — show the paste format" in html
    assert CLINIC.group_usage("referral") == REFERRAL_USAGE


def test_the_rest_takes_what_the_matched_arguments_after_it_leave():
    found = CLINIC.parse("!find family medicine TN")
    assert found is not None and found.kwargs == {"specialty": "family medicine", "state": "TN"}
    assert CLINIC.parse("!find cardiology MA").kwargs == {  # type: ignore[union-attr]
        "specialty": "cardiology", "state": "MA"}
    assert _refusal(CLINIC, "!find family medicine") == (
        "!find: <state> cannot be 'medicine' (a state, e.g. MA) — usage: "
        "!find <specialty…> <state>")
    assert _refusal(CLINIC, "!find cardiology") == \
        "!find: missing <state> (a state, e.g. MA) — usage: !find <specialty…> <state>"


def test_a_matcher_takes_the_longest_run_of_words_that_matches():
    confirmed = CLINIC.parse("!confirm +1 555 123 4567 Dr. Lee's office")
    assert confirmed is not None
    assert confirmed.kwargs == {"number": "+1 555 123 4567", "name": "Dr. Lee's office"}
    quoted = CLINIC.parse('!confirm 5551234 "Lee & Lee" clinic')
    assert quoted is not None and quoted.kwargs["name"] == "Lee & Lee clinic"
    assert _refusal(CLINIC, "!confirm Dr. Lee") == (
        "!confirm: <number> cannot be 'Dr.' (e.g. +1 555 123 4567) — usage: "
        "!confirm <number> <name…>")
    assert _refusal(CLINIC, "!confirm +1 555 123 4567") == \
        "!confirm: missing <name…> — usage: !confirm <number> <name…>"


def test_groups_and_arguments_are_checked_when_declared():
    command("x", help="", args=[Arg("a", rest=True), Arg("b", matches="[0-9]+")])
    with pytest.raises(ValueError, match="only the last"):
        command("x", help="", args=[Arg("a", rest=True), Arg("b", required=False, matches="b")])
    with pytest.raises(ValueError, match="one lower-case word"):
        group("a b", help="")
    with pytest.raises(ValueError, match="one lower-case word"):
        Clinic.referral.subcommand("New", help="")

    class Clash(Bot):
        @command("referral", help="")
        async def old(self, ctx) -> None: ...

        @Clinic.referral.subcommand("new", help="")
        async def new(self, ctx) -> None: ...

    with pytest.raises(ValueError, match="both a command and a group"):
        CommandTable.of(Clash)


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


def test_where_a_reply_goes_dm_main_timeline_group_room_thread():
    plain = IncomingEvent("$cmd", "!r", "@a:x", "m.room.message", 0, {"body": "!ping"})
    threaded = IncomingEvent(
        "$cmd", "!r", "@a:x", "m.room.message", 0,
        {"body": "!ping", "m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}},
    )
    assert reply_thread(plain, direct=True) is None  # a chat reads as a chat
    assert reply_thread(plain, direct=True, start=True) == "$cmd"  # e.g. a referral form
    assert reply_thread(plain, direct=False) == "$cmd"  # group rooms: one thread each
    assert reply_thread(threaded, direct=True) == "$root"  # a thread is answered in it
    assert reply_thread(threaded, direct=False) == "$root"


def test_notice_carries_html_and_mentions():
    message = notice("hi <you>", f"hi {pill('@a:x', 'Dr <A>')}", mentions=["@a:x", "@a:x"])
    assert message["msgtype"] == "m.notice"
    assert message["formatted_body"] == 'hi <a href="https://matrix.to/#/@a:x">Dr &lt;A&gt;</a>'
    assert message["m.mentions"] == {"user_ids": ["@a:x"]}
    assert notice("a < b")["formatted_body"] == "a &lt; b"
