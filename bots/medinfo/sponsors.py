"""Sponsors as the operator configures them: YAML in, validated value types out.

    sponsors.yaml ──load_sponsors──> [Sponsor] ──import_sponsors──> medinfo_sponsors rows
                                                   (one row per sponsor, the validated
                                                    config as JSON; re-import replaces)

The bot reads sponsors back from the database (:func:`load_directory`), so a
running bot and the CLI agree on one source. Validation happens at import and
refuses, with a message naming the sponsor and member, anything the desk must
never do — above all admitting a sales role into a medical room: MSL teams,
medical information and pharmacovigilance are kept apart from promotion.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bots.medinfo.models import SponsorRow
from curbside.database import session_scope

ADMITTED_ROLES = frozenset({"msl", "medical_information", "pv"})
SALES_ROLES = frozenset({"sales", "sales_rep", "marketing", "key_account_manager"})
PRIORITIES = ("urgent", "routine")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SponsorConfigError(ValueError):
    """The sponsor file cannot be imported; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Product:
    brand: str
    generic: str
    therapeutic_area: str


@dataclass(frozen=True, slots=True)
class Member:
    user_id: str
    role: str
    contact: str = ""  # printed on response letters only when configured


@dataclass(frozen=True, slots=True)
class Team:
    """An MSL team: its room, and which therapeutic areas and regions it covers."""

    name: str
    room_id: str
    therapeutic_areas: tuple[str, ...]
    regions: tuple[str, ...]

    def covers(self, therapeutic_area: str, region: str) -> bool:
        return (not self.therapeutic_areas or therapeutic_area in self.therapeutic_areas) and (
            not self.regions or region in self.regions
        )


@dataclass(frozen=True, slots=True)
class Hours:
    """Business hours of one sponsor, in its own time zone."""

    timezone: str
    start: time
    end: time
    weekdays: tuple[int, ...]  # 0 = Monday
    holidays: tuple[date, ...] = ()


@dataclass(frozen=True, slots=True)
class Sponsor:
    key: str
    name: str
    products: tuple[Product, ...]
    teams: tuple[Team, ...]
    medical_information_lead: str
    pv_room_id: str
    members: tuple[Member, ...]
    hours: Hours
    targets: dict[str, str] = field(default_factory=dict)  # priority -> "4h" / "2d"
    pv_contact: str = ""  # how to report adverse events, printed on response letters
    # Sponsor-controlled spaces where clinicians post (sponsored digital media): the desk
    # screens every clinician message there for adverse events (not an admitted-only room).
    sponsored_rooms: tuple[str, ...] = ()

    @property
    def rooms(self) -> tuple[str, ...]:
        return (*(t.room_id for t in self.teams), self.pv_room_id)

    def role_of(self, user_id: str) -> str | None:
        return next((m.role for m in self.members if m.user_id == user_id), None)

    def may_answer(self, user_id: str) -> bool:
        """MSLs and medical information answer requests; PV staff do not."""
        return self.role_of(user_id) in {"msl", "medical_information"}

    def admitted(self, user_id: str, room_id: str) -> bool:
        """May this user be a member of this sponsor room?"""
        role = self.role_of(user_id)
        if role is None:
            return False
        if room_id == self.pv_room_id:
            return role in {"pv", "medical_information"}
        return role in {"msl", "medical_information"}


@dataclass(frozen=True, slots=True)
class Directory:
    """All sponsors the desk routes to, with look-ups by room."""

    sponsors: tuple[Sponsor, ...]

    def get(self, key: str) -> Sponsor | None:
        return next((s for s in self.sponsors if s.key == key), None)

    def by_room(self, room_id: str) -> Sponsor | None:
        return next((s for s in self.sponsors if room_id in s.rooms), None)

    def by_sponsored_room(self, room_id: str) -> Sponsor | None:
        """The sponsor whose sponsored space (screened, open to clinicians) this room is."""
        return next((s for s in self.sponsors if room_id in s.sponsored_rooms), None)


# -- parsing -------------------------------------------------------------------


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data or data[key] in (None, ""):
        raise SponsorConfigError(f"{where}: missing '{key}'")
    return data[key]


def _room_id(value: Any, where: str) -> str:
    text = str(value)
    if not text.startswith("!") or len(text) < 2 or any(c.isspace() for c in text):
        raise SponsorConfigError(f"{where}: '{text}' is not a Matrix room id (!…)")
    return text


def _user_id(value: Any, where: str) -> str:
    text = str(value)
    if not text.startswith("@") or ":" not in text:
        raise SponsorConfigError(f"{where}: '{text}' is not a Matrix user id (@name:server)")
    return text


def _target(value: Any, where: str) -> str:
    text = str(value).strip().lower()
    if len(text) < 2 or text[-1] not in "hd" or not text[:-1].isdigit() or int(text[:-1]) < 1:
        raise SponsorConfigError(f"{where}: target '{value}' must be like '4h' or '2d'")
    return text


def _hours(data: dict[str, Any], where: str) -> Hours:
    spec = _require(data, "business_hours", where)
    start, _, end = str(_require(spec, "hours", f"{where}.business_hours")).partition("-")
    try:
        opening, closing = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
        holidays = tuple(date.fromisoformat(str(d)) for d in data.get("holidays") or ())
    except ValueError as exc:
        raise SponsorConfigError(f"{where}: {exc}") from exc
    if closing <= opening:
        raise SponsorConfigError(f"{where}: business hours must close after they open")
    days = [str(d).lower()[:3] for d in spec.get("days") or WEEKDAYS[:5]]
    unknown = [d for d in days if d not in WEEKDAYS]
    if unknown:
        raise SponsorConfigError(f"{where}: unknown weekday(s) {', '.join(unknown)}")
    return Hours(
        timezone=str(_require(spec, "timezone", f"{where}.business_hours")),
        start=opening,
        end=closing,
        weekdays=tuple(sorted(WEEKDAYS.index(d) for d in days)),
        holidays=holidays,
    )


def parse_sponsor(data: dict[str, Any]) -> Sponsor:
    """One sponsor from its YAML mapping; raises :class:`SponsorConfigError`."""
    key = str(_require(data, "key", "sponsor"))
    where = f"sponsor {key}"
    members = []
    for raw in data.get("members") or ():
        user = _user_id(_require(raw, "user_id", where), where)
        role = str(_require(raw, "role", f"{where} member {user}")).lower()
        if role in SALES_ROLES:
            raise SponsorConfigError(
                f"{where}: {user} has the sales role '{role}'; sales roles are never "
                "admitted to medical-information, MSL or PV rooms — remove them"
            )
        if role not in ADMITTED_ROLES:
            raise SponsorConfigError(
                f"{where}: {user} has unknown role '{role}' "
                f"(allowed: {', '.join(sorted(ADMITTED_ROLES))})"
            )
        members.append(Member(user, role, str(raw.get("contact") or "")))
    products = tuple(
        Product(
            brand=str(_require(p, "brand", where)),
            generic=str(_require(p, "generic", where)).lower(),
            therapeutic_area=str(_require(p, "therapeutic_area", where)).lower(),
        )
        for p in _require(data, "products", where)
    )
    teams = tuple(
        Team(
            name=str(_require(t, "name", where)),
            room_id=_room_id(_require(t, "room_id", where), f"{where} team"),
            therapeutic_areas=tuple(str(a).lower() for a in t.get("therapeutic_areas") or ()),
            regions=tuple(str(r).upper() for r in t.get("regions") or ()),
        )
        for t in _require(data, "teams", where)
    )
    lead = _user_id(_require(data, "medical_information_lead", where), where)
    if lead not in {m.user_id for m in members}:
        members.append(Member(lead, "medical_information"))
    targets = {p: _target(v, f"{where} target {p}") for p, v in (data.get("targets") or {}).items()}
    missing = [p for p in PRIORITIES if p not in targets]
    if missing:
        raise SponsorConfigError(f"{where}: no response target for {', '.join(missing)}")
    sponsored = tuple(_room_id(r, f"{where} sponsored_rooms")
                      for r in data.get("sponsored_rooms") or ())
    admitted_only = {t.room_id for t in teams} | {str(data.get("pv_room_id"))}
    if clash := sorted(admitted_only.intersection(sponsored)):
        raise SponsorConfigError(
            f"{where}: {clash[0]} is both a sponsored room (open to clinicians, screened) and "
            "an MSL or PV room (sponsor members only); give each its own room")
    return Sponsor(
        key=key,
        name=str(data.get("name") or key),
        products=products,
        teams=teams,
        medical_information_lead=lead,
        pv_room_id=_room_id(_require(data, "pv_room_id", where), f"{where} pv_room_id"),
        members=tuple(members),
        hours=_hours(data, where),
        targets=targets,
        pv_contact=str(data.get("pv_contact") or ""),
        sponsored_rooms=sponsored,
    )


def load_sponsors(path: Path) -> list[Sponsor]:
    """Parse and validate a sponsor file (a top-level ``sponsors:`` list)."""
    document = yaml.safe_load(path.read_text())
    if not isinstance(document, dict) or not isinstance(document.get("sponsors"), list):
        raise SponsorConfigError(f"{path}: expected a top-level 'sponsors:' list")
    sponsors = [parse_sponsor(item) for item in document["sponsors"]]
    keys = [s.key for s in sponsors]
    if len(set(keys)) != len(keys):
        raise SponsorConfigError(f"{path}: sponsor keys must be unique")
    return sponsors


# -- storage -------------------------------------------------------------------


def _to_json(sponsor: Sponsor) -> str:
    return json.dumps(asdict(sponsor), default=str, sort_keys=True)


def _from_json(text: str) -> Sponsor:
    d = json.loads(text)
    h = d["hours"]
    return Sponsor(
        key=d["key"],
        name=d["name"],
        products=tuple(Product(**p) for p in d["products"]),
        teams=tuple(
            Team(t["name"], t["room_id"], tuple(t["therapeutic_areas"]), tuple(t["regions"]))
            for t in d["teams"]
        ),
        medical_information_lead=d["medical_information_lead"],
        pv_room_id=d["pv_room_id"],
        members=tuple(Member(**m) for m in d["members"]),
        hours=Hours(
            timezone=h["timezone"],
            start=time.fromisoformat(h["start"]),
            end=time.fromisoformat(h["end"]),
            weekdays=tuple(h["weekdays"]),
            holidays=tuple(date.fromisoformat(x) for x in h["holidays"]),
        ),
        targets=dict(d["targets"]),
        pv_contact=d.get("pv_contact", ""),
        sponsored_rooms=tuple(d.get("sponsored_rooms", ())),
    )


def import_sponsors(engine: Engine, path: Path) -> list[Sponsor]:
    """Validate the file, then replace the stored config of each sponsor in it."""
    sponsors = load_sponsors(path)
    with session_scope(engine) as session:
        for sponsor in sponsors:
            row = session.get(SponsorRow, sponsor.key)
            if row is None:
                session.add(SponsorRow(key=sponsor.key, config=_to_json(sponsor)))
            else:
                row.config = _to_json(sponsor)
    return sponsors


def load_directory(session: Session) -> Directory:
    rows = session.scalars(select(SponsorRow).order_by(SponsorRow.key)).all()
    return Directory(tuple(_from_json(r.config) for r in rows))
