"""The demo: every journey can be tried minutes after `make run`, on synthetic data.

    curbside init ─► seed(): synthetic NPPES registry (data/demo/) ─► pick people
                     from it ─► verify two clinicians (roster import) ─► a fax number
                     for one ─► demo.yaml (logins, who is who; 0600)
    curbside up   ─► accounts(): the demo accounts on the homeserver
                  ─► rooms(): the sponsor's MSL and PV rooms (made by their members,
                     then the sponsor is imported, then the medinfo bot invited) and
                     the demo verifier on the credentialing team (the gatekeeper
                     makes that room) ─► screen(): the logins and three things to try

Only on the embedded homeserver (:attr:`Settings.demo_enabled`): the demo
never touches a real one. It is made of the product's own operator steps —
registry import, roster import, fax route, sponsor import, `verifiers add` —
so what a newcomer tries is what production does, and everything it writes
is marked: accounts are ``demo-…``, the sponsor is "Demo Pharma (DEMO)".
Idempotent: a second `init` or `up` finds what the first one made; a
database that already holds a provider registry (an installation in use,
upgraded to a version with the demo) never gets one.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import secrets
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import click
import yaml

from bots.gatekeeper import credentialing
from bots.gatekeeper.names import display_legal_name
from bots.gatekeeper.registry import ProviderRecord, generate_nppes_file, import_nppes
from bots.gatekeeper.registry.lookup import first_licensed, has_providers
from bots.gatekeeper.roster import import_roster
from bots.medinfo.sponsors import import_sponsors
from curbside.cli.context import AppContext
from curbside.database import session_scope
from curbside.homeserver import UserExists, register_user
from curbside.matrix.rooms import encryption_state
from fax_gateway import Owner, OwnerKind
from fax_gateway.cli import gateway_for, parse_fax_settings

REGISTRY_ROWS = 3000
REGISTRY_SEED = 2026
#: The number whose faxes reach the demo cardiologist (a valid, fictional 555-01xx number).
FAX_NUMBER = "+16175550142"
FAX_SHOWN = "+1 617 555 0142"
SPONSOR = "Demo Pharma (DEMO)"
INTERNAL_MEDICINE, CARDIOLOGY, FAMILY_MEDICINE = "207R00000X", "207RC0000X", "207Q00000X"


@dataclass(frozen=True, slots=True)
class Person:
    """One demo account: its login, and what it is for."""

    localpart: str
    password: str
    display_name: str
    about: str


@dataclass(frozen=True, slots=True)
class Newcomer:
    """What the unverified demo clinician answers to !verify (from the synthetic registry)."""

    npi: str
    name: str
    licence: str
    specialty: str


def _state_path(app: AppContext) -> Path:
    return app.settings.data_dir / "demo" / "demo.yaml"


def _read_state(app: AppContext) -> dict[str, Any] | None:
    path = _state_path(app)
    return yaml.safe_load(path.read_text()) if path.exists() else None


def _write_state(app: AppContext, state: dict[str, Any]) -> None:
    path = _state_path(app)
    path.write_text(yaml.safe_dump(state, sort_keys=False))
    path.chmod(0o600)


def user_id(app: AppContext, localpart: str) -> str:
    return f"@{localpart}:{app.settings.homeserver.server_name}"


def people(state: dict[str, Any]) -> list[Person]:
    return [Person(**p) for p in state["people"]]


def newcomer(state: dict[str, Any]) -> Newcomer:
    return Newcomer(**state["newcomer"])


def _pick(app: AppContext, code: str, skip: list[str]) -> ProviderRecord:
    provider = first_licensed(app.engine, code, skip=skip)
    if provider is None:  # the generator is seeded: this is a change to it, not bad luck
        raise click.ClickException(f"demo: the synthetic registry has no {code} clinician")
    skip.append(provider.npi)
    return provider


def _licence(provider: ProviderRecord, code: str) -> tuple[str, str]:
    licence = next(lic for lic in provider.licences
                   if lic.taxonomy_code == code and lic.licence_state and lic.licence_number)
    return str(licence.licence_state), str(licence.licence_number)


def _legal_name(provider: ProviderRecord) -> str:
    return display_legal_name(provider.first_name, provider.last_name)


def seed(app: AppContext) -> None:
    """`curbside init`'s part: registry, verified clinicians, the fax route, the logins."""
    settings = app.settings
    if not settings.demo_enabled:
        why = "off (demo.enabled)" if not settings.demo.enabled else (
            "not set up on an external homeserver")
        click.echo(f"demo: {why}")
        return
    if _read_state(app) is not None:
        click.echo(f"demo: kept ({_state_path(app)})")
        return
    if has_providers(app.engine):  # an installation in use: never mix synthetic people in
        click.echo("demo: not set up — this database already holds a provider registry "
                   "(set demo.enabled: false to stop this message)")
        return
    folder = settings.data_dir / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    registry_file = folder / "npidata_demo.csv"
    generate_nppes_file(registry_file, REGISTRY_ROWS, seed=REGISTRY_SEED)
    imported = import_nppes(app.engine, registry_file)
    taken: list[str] = []
    internist = _pick(app, INTERNAL_MEDICINE, taken)
    cardiologist = _pick(app, CARDIOLOGY, taken)
    new = _pick(app, FAMILY_MEDICINE, taken)
    roster = folder / "roster.csv"
    with roster.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(("matrix_id", "npi", "licence_state", "licence_number", "checked"))
        for localpart, provider, code in (("demo-internist", internist, INTERNAL_MEDICINE),
                                          ("demo-cardiologist", cardiologist, CARDIOLOGY)):
            writer.writerow((user_id(app, localpart), provider.npi, *_licence(provider, code),
                             "DEMO: synthetic clinician, nothing was checked"))
    verified = import_roster(app.engine, roster, "operator:demo", audit=app.audit)
    if verified.rejections:
        raise click.ClickException(f"demo: roster refused: {verified.rejections[0].reason}")
    fax_settings = parse_fax_settings(settings.fax)
    gateway_for(app, fax_settings).assign_route(
        FAX_NUMBER, Owner(OwnerKind.MATRIX_USER, user_id(app, "demo-cardiologist")),
        actor="operator:demo", reason="demo: the cardiologist's fax number")
    state, licence = _new_people(app, internist, cardiologist, new), _licence(new, FAMILY_MEDICINE)
    state["newcomer"] = asdict(Newcomer(new.npi, _legal_name(new), " ".join(licence),
                                        "Family Medicine"))
    _write_state(app, state)
    click.echo(f"demo: synthetic registry of {imported.inserted:,} providers, "
               f"{verified.imported} verified demo clinicians, fax {FAX_SHOWN} → "
               f"demo-cardiologist; logins in {_state_path(app)}")


def _new_people(app: AppContext, internist: ProviderRecord, cardiologist: ProviderRecord,
                new: ProviderRecord) -> dict[str, Any]:
    def person(localpart: str, name: str, about: str) -> dict[str, str]:
        return asdict(Person(localpart, secrets.token_urlsafe(9), name, about))

    return {"people": [
        person("demo-clinician", f"{_legal_name(new)} (DEMO)",
               "a new clinician, not verified yet: try !verify"),
        person("demo-internist", f"{_legal_name(internist)} (DEMO)",
               "verified · Internal Medicine"),
        person("demo-cardiologist", f"{_legal_name(cardiologist)} (DEMO)",
               f"verified · Cardiovascular Disease · receives faxes to {FAX_SHOWN}"),
        person("demo-verifier", "Demo Verifier (DEMO)", "the credentialing team"),
        person("demo-msl", "Demo MSL (DEMO)", f"{SPONSOR}: medical science liaison"),
        person("demo-pv", "Demo PV (DEMO)", f"{SPONSOR}: pharmacovigilance"),
    ]}


async def accounts(app: AppContext) -> None:
    """The demo accounts on the homeserver (kept when they exist)."""
    state = _read_state(app)
    if not app.settings.demo_enabled or state is None:
        return
    hs = app.settings.homeserver
    for person in people(state):
        with contextlib.suppress(UserExists):
            await register_user(hs.url, hs.registration_shared_secret, person.localpart,
                                person.password, displayname=person.display_name)


class _As:
    """A demo member doing a room step over the client-server API, then logging out."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        self.http, self.url, self.token = http, url, token

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(f"{self.url}/_matrix/client/v3{path}", json=body,
                                  headers={"Authorization": f"Bearer {self.token}"}) as reply:
            data: dict[str, Any] = await reply.json()
            if reply.status != 200:
                raise click.ClickException(f"demo: {path} refused: {data}")
            return data


@contextlib.asynccontextmanager
async def _logged_in(url: str, person: Person) -> AsyncIterator[_As]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/_matrix/client/v3/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user",
                                                       "user": person.localpart},
            "password": person.password, "initial_device_display_name": "curbside demo setup",
        }) as reply:
            token = (await reply.json())["access_token"]
        member = _As(http, url, token)
        try:
            yield member
        finally:
            await member.call("/logout", {})


async def _room(url: str, person: Person, name: str, topic: str) -> str:
    async with _logged_in(url, person) as member:
        made = await member.call("/createRoom", {
            "name": name, "topic": topic, "preset": "private_chat",
            "initial_state": [encryption_state()]})
        return str(made["room_id"])


async def _invite(url: str, person: Person, room_id: str, invitee: str) -> None:
    async with _logged_in(url, person) as member:
        await member.call(f"/rooms/{quote(room_id)}/invite", {"user_id": invitee})


def _sponsor_file(app: AppContext, msl_room: str, pv_room: str) -> Path:
    msl, pv = user_id(app, "demo-msl"), user_id(app, "demo-pv")
    sponsor = {
        "key": "demo-pharma", "name": SPONSOR,
        "products": [
            {"brand": "Cardiovex", "generic": "demoprilat", "therapeutic_area": "cardiology"},
            {"brand": "Glucodemo", "generic": "demoglutide", "therapeutic_area": "diabetes"},
        ],
        "teams": [{"name": "Demo MSL team", "room_id": msl_room}],
        "medical_information_lead": msl,
        "pv_room_id": pv_room,
        "members": [{"user_id": msl, "role": "msl"}, {"user_id": pv, "role": "pv"}],
        "business_hours": {"timezone": "UTC", "hours": "00:00-23:59",
                           "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        "targets": {"urgent": "4h", "routine": "2d"},
        "pv_contact": "DEMO: no real safety department behind this sponsor",
    }
    path = app.settings.data_dir / "demo" / "sponsors.yaml"
    path.write_text(yaml.safe_dump({"sponsors": [sponsor]}, sort_keys=False))
    return path


async def rooms(app: AppContext) -> None:
    """The sponsor's rooms and the credentialing team, once the bots are running."""
    state = _read_state(app)
    if not app.settings.demo_enabled or state is None:
        return
    url = app.settings.homeserver.url
    by_name = {p.localpart: p for p in people(state)}
    if "rooms" not in state:
        msl_room = await _room(url, by_name["demo-msl"], f"{SPONSOR} · MSL team",
                               "DEMO: medical-information requests arrive here as threads")
        pv_room = await _room(url, by_name["demo-pv"], f"{SPONSOR} · pharmacovigilance",
                              "DEMO: adverse events and complaints are forwarded here")
        # Imported before the bot is invited, so it knows the rooms as the sponsor's.
        await asyncio.to_thread(import_sponsors, app.engine, _sponsor_file(app, msl_room,
                                                                           pv_room))
        medinfo = app.settings.bot_user_id("medinfo")
        await _invite(url, by_name["demo-msl"], msl_room, medinfo)
        await _invite(url, by_name["demo-pv"], pv_room, medinfo)
        state["rooms"] = {"msl": msl_room, "pv": pv_room}
        _write_state(app, state)
    with session_scope(app.engine) as session:
        credentialing.add_verifier(session, app.audit, user_id(app, "demo-verifier"),
                                   by="operator:demo", now=datetime.now(UTC))


def screen(app: AppContext) -> list[str]:
    """The demo's part of what `curbside up` prints: every login, then three things to try."""
    state = _read_state(app)
    if not app.settings.demo_enabled or state is None:
        return []
    settings = app.settings
    gatekeeper, desk, medinfo = (settings.bot_user_id(b)
                                 for b in ("gatekeeper", "referral_desk", "medinfo"))
    who = newcomer(state)
    lines = ["", "DEMO — synthetic people and data (config: demo.enabled: false turns it off)",
             "  logins (user / password):"]
    lines += [f"    {p.localpart:<18} {p.password:<14} {p.about}" for p in people(state)]
    lines += [
        "  first three things to try:",
        f"    1. Verify a clinician: log in as demo-clinician, chat with {gatekeeper}, "
        "send !verify",
        f"       and answer: NPI {who.npi} · name {who.name} · licence {who.licence}; then",
        "       as demo-verifier, in the Credentialing room: !pending, then "
        "!approve <request number> <what you checked>",
        f"    2. Refer a patient: as demo-internist, chat with {desk}, send !referral new and",
        f"       answer in its thread (recipient: {user_id(app, 'demo-cardiologist')}); "
        "as demo-cardiologist, !accept and !note",
        f"    3. Ask a sponsor: as demo-internist, chat with {medinfo} and ask "
        "\"Can Cardiovex be taken",
        "       with grapefruit juice?\"; as demo-msl, answer in the request's thread in "
        f"the {SPONSOR} · MSL team room",
        f"  fax: as demo-internist, start a chat with @fax_{FAX_NUMBER[1:]}:"
        f"{settings.homeserver.server_name} and send a PDF (it reaches demo-cardiologist)",
    ]
    return lines
