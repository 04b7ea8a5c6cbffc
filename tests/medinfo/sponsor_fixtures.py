"""Two sponsors for the tests: Northwind (cardiometabolic) and Helix (neuro, cardio).

Both market the generic velostatin (Northwind as Cardiova, Helix as Velocor),
so a question naming only "velostatin" is ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bots.medinfo.sponsors import Directory, parse_sponsor


@dataclass(frozen=True)
class SponsorRooms:
    msl_room: str
    pv_room: str
    msl: str
    lead: str
    pv: str
    sponsored: str = ""  # a sponsored room clinicians post in (screened), if any


def sponsor_document(north: SponsorRooms, helix: SponsorRooms) -> str:
    """The YAML an operator would write for the two test sponsors."""
    return f"""
sponsors:
  - key: northwind
    name: Northwind Pharma
    products:
      - {{brand: Cardiova, generic: velostatin, therapeutic_area: cardiology}}
      - {{brand: Glucera, generic: metrafide, therapeutic_area: metabolic}}
    teams:
      - name: Northwind US medical
        room_id: "{north.msl_room}"
        therapeutic_areas: [cardiology, metabolic]
        regions: []
    medical_information_lead: "{north.lead}"
    pv_room_id: "{north.pv_room}"
    members:
      - {{user_id: "{north.msl}", role: msl}}
      - {{user_id: "{north.pv}", role: pv}}
    business_hours:
      {{timezone: America/New_York, hours: "09:00-17:00", days: [mon, tue, wed, thu, fri]}}
    holidays: ["2026-12-25", "2027-01-01"]
    targets: {{urgent: 4h, routine: 2d}}
    sponsored_rooms: [{f'"{north.sponsored}"' if north.sponsored else ""}]
  - key: helix
    name: Helix Therapeutics
    products:
      - {{brand: Neurexa, generic: lamozepine, therapeutic_area: neurology}}
      - {{brand: Velocor, generic: velostatin, therapeutic_area: cardiology}}
    teams:
      - name: Helix medical affairs
        room_id: "{helix.msl_room}"
        therapeutic_areas: []
        regions: []
    medical_information_lead: "{helix.lead}"
    pv_room_id: "{helix.pv_room}"
    members:
      - {{user_id: "{helix.msl}", role: msl, contact: "msl.desk@helix.example"}}
      - {{user_id: "{helix.pv}", role: pv}}
    pv_contact: "+44 20 7946 0000 or drugsafety@helix.example"
    business_hours: {{timezone: Europe/London, hours: "08:30-17:30"}}
    targets: {{urgent: 8h, routine: 3d}}
"""


PLACEHOLDER_NORTH = SponsorRooms("!nmsl:north.example", "!npv:north.example",
                                 "@msl:north.example", "@lead:north.example",
                                 "@pv:north.example", "!npage:north.example")
PLACEHOLDER_HELIX = SponsorRooms("!hmsl:helix.example", "!hpv:helix.example",
                                 "@msl:helix.example", "@lead:helix.example",
                                 "@pv:helix.example")


def write_sponsors(path: Path, north: SponsorRooms = PLACEHOLDER_NORTH,
                   helix: SponsorRooms = PLACEHOLDER_HELIX) -> Path:
    path.write_text(sponsor_document(north, helix))
    return path


def directory() -> Directory:
    import yaml

    data = yaml.safe_load(sponsor_document(PLACEHOLDER_NORTH, PLACEHOLDER_HELIX))
    return Directory(tuple(parse_sponsor(s) for s in data["sponsors"]))
