"""Synthetic NPPES data files, for tests, demos and the import benchmark.

The real monthly file cannot be shipped or fetched here, so this writes one of
any size in the exact dissemination format: the 330-column header of
:mod:`nppes_format`, every value double-quoted, MM/DD/YYYY dates, valid NPI
check digits, individuals and organisations with realistic names, practice
states and ZIP codes, NUCC taxonomies with state licence numbers, and a share
of deactivated NPIs (published, as CMS does, with only the NPI and the
deactivation date) and of reactivated ones.

Output is a pure function of ``(rows, seed)``. Rows are assembled as text from
pre-quoted pieces rather than through :mod:`csv` because the benchmark writes
nine million of them; the mostly empty blocks (other names, other provider
identifiers) are constant strings.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bots.gatekeeper.registry import nppes_format as fmt
from bots.gatekeeper.registry.npi import make_npi

#: Called as ``progress(rows_written, rows_total)`` every few thousand rows.
GenerateProgress = Callable[[int, int], None]

_PROGRESS_EVERY = 20_000
_NPI_BODY_FIRST = 100_000_000
#: NPIs start with 1 or 2 (NPPES has not issued others yet).
_NPI_BODY_SPAN = 200_000_000
#: Coprime with the span, so ``i * stride mod span`` visits distinct bodies.
_NPI_STRIDE = 7_919_731

DEACTIVATED_SHARE = 0.01
REACTIVATED_SHARE = 0.002
ORGANISATION_SHARE = 0.17

# (code, credential, licence prefix, weight): individuals' NUCC taxonomies.
_INDIVIDUAL_TAXONOMIES: tuple[tuple[str, str, str, int], ...] = (
    ("207Q00000X", "MD", "MD", 9),  # Family Medicine
    ("207R00000X", "MD", "MD", 9),  # Internal Medicine
    ("207RC0000X", "MD", "MD", 3),  # Cardiovascular Disease
    ("207RG0100X", "MD", "MD", 1),  # Gastroenterology
    ("207X00000X", "MD", "MD", 2),  # Orthopaedic Surgery
    ("208000000X", "MD", "MD", 3),  # Pediatrics
    ("207V00000X", "MD", "MD", 2),  # Obstetrics & Gynecology
    ("2084N0400X", "MD", "MD", 1),  # Neurology
    ("2084P0800X", "MD", "MD", 2),  # Psychiatry
    ("207P00000X", "DO", "DO", 2),  # Emergency Medicine
    ("2085R0202X", "MD", "MD", 1),  # Diagnostic Radiology
    ("363L00000X", "NP", "RN", 8),  # Nurse Practitioner
    ("363LF0000X", "FNP", "RN", 4),  # Family Nurse Practitioner
    ("363A00000X", "PA-C", "PA", 5),  # Physician Assistant
    ("163W00000X", "RN", "RN", 6),  # Registered Nurse
    ("122300000X", "DDS", "DN", 3),  # Dentist
    ("1223G0001X", "DMD", "DN", 3),  # General Practice dentist
    ("213E00000X", "DPM", "PO", 1),  # Podiatrist
    ("183500000X", "PHARMD", "RPH", 4),  # Pharmacist
    ("225100000X", "PT", "PT", 3),  # Physical Therapist
    ("152W00000X", "OD", "OD", 2),  # Optometrist
    ("103T00000X", "PHD", "PSY", 2),  # Psychologist
    ("1041C0700X", "LCSW", "SW", 3),  # Clinical social worker
    ("111N00000X", "DC", "DC", 2),  # Chiropractor
    ("235Z00000X", "CCC-SLP", "SLP", 1),  # Speech-Language Pathologist
    ("146L00000X", "EMT-P", "EMT", 1),  # Paramedic
)
# (code, name pattern): organisations' NUCC taxonomies.
_ORGANISATION_TAXONOMIES: tuple[tuple[str, str], ...] = (
    ("261QP2300X", "{city} Primary Care Clinic"),
    ("282N00000X", "{city} General Hospital"),
    ("207Q00000X", "{last} Family Medicine Associates"),
    ("343900000X", "{city} Medical Transport"),
    ("332B00000X", "{last} Medical Supply"),
    ("333600000X", "{last} Pharmacy"),
    ("251E00000X", "{city} Home Health Agency"),
    ("291U00000X", "{city} Clinical Laboratory"),
)
# (state, ZIP prefix, cities, weight) - weights roughly follow population.
_STATES: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("CA", "9", ("LOS ANGELES", "SAN DIEGO", "SACRAMENTO", "FRESNO"), 39),
    ("TX", "7", ("HOUSTON", "DALLAS", "AUSTIN", "EL PASO"), 29),
    ("FL", "3", ("MIAMI", "ORLANDO", "TAMPA", "JACKSONVILLE"), 22),
    ("NY", "1", ("NEW YORK", "BUFFALO", "ROCHESTER", "ALBANY"), 20),
    ("PA", "1", ("PHILADELPHIA", "PITTSBURGH", "ALLENTOWN"), 13),
    ("IL", "6", ("CHICAGO", "SPRINGFIELD", "PEORIA"), 13),
    ("OH", "4", ("COLUMBUS", "CLEVELAND", "CINCINNATI"), 12),
    ("GA", "3", ("ATLANTA", "SAVANNAH", "AUGUSTA"), 11),
    ("NC", "2", ("CHARLOTTE", "RALEIGH", "DURHAM"), 11),
    ("MI", "4", ("DETROIT", "GRAND RAPIDS", "LANSING"), 10),
    ("NJ", "0", ("NEWARK", "JERSEY CITY", "TRENTON"), 9),
    ("VA", "2", ("RICHMOND", "NORFOLK", "ARLINGTON"), 9),
    ("WA", "9", ("SEATTLE", "SPOKANE", "TACOMA"), 8),
    ("AZ", "8", ("PHOENIX", "TUCSON", "MESA"), 7),
    ("MA", "0", ("BOSTON", "WORCESTER", "SPRINGFIELD", "CAMBRIDGE"), 7),
    ("TN", "3", ("NASHVILLE", "MEMPHIS", "KNOXVILLE"), 7),
    ("MD", "2", ("BALTIMORE", "ROCKVILLE", "ANNAPOLIS"), 6),
    ("MN", "5", ("MINNEAPOLIS", "SAINT PAUL", "ROCHESTER"), 6),
    ("CO", "8", ("DENVER", "AURORA", "BOULDER"), 6),
    ("OR", "9", ("PORTLAND", "EUGENE", "SALEM"), 4),
    ("VT", "0", ("BURLINGTON", "MONTPELIER"), 1),
    ("AK", "9", ("ANCHORAGE", "FAIRBANKS"), 1),
)
_FEMALE = (
    "MARY", "PATRICIA", "JENNIFER", "LINDA", "ELIZABETH", "SUSAN", "JESSICA", "SARAH",
    "KAREN", "NANCY", "LISA", "MARGARET", "PRIYA", "MEI", "FATIMA", "ANA", "GRACE", "OLIVIA",
)
_MALE = (
    "JAMES", "ROBERT", "JOHN", "MICHAEL", "DAVID", "WILLIAM", "RICHARD", "JOSEPH", "THOMAS",
    "CHARLES", "DANIEL", "RAJESH", "WEI", "AHMED", "CARLOS", "KWAME", "LUCAS", "ETHAN",
)
_LAST = (
    "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "RODRIGUEZ",
    "MARTINEZ", "HERNANDEZ", "LOPEZ", "GONZALEZ", "WILSON", "ANDERSON", "THOMAS", "TAYLOR",
    "MOORE", "JACKSON", "MARTIN", "LEE", "PEREZ", "THOMPSON", "WHITE", "HARRIS", "CLARK",
    "NGUYEN", "PATEL", "KIM", "CHEN", "O'BRIEN", "MURPHY", "COHEN", "OKAFOR", "SINGH", "WONG",
)
_STREETS = ("MAIN ST", "OAK AVE", "MAPLE DR", "PARK BLVD", "HOSPITAL RD", "CENTER ST", "ELM ST")
_SUFFIXES = ("", "", "", "", "", "", "", "", "JR.", "III")
_PREFIXES = ("", "", "", "DR.", "DR.", "MS.", "MR.")
_FIRST_DAY = dt.date(2005, 5, 23)  # the day NPPES started enumerating


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    """Summary of a generated file (counts let tests and benchmarks check it)."""

    path: Path
    rows: int
    organisations: int
    deactivated: int
    reactivated: int
    bytes_written: int


def _q(value: str) -> str:
    """Quote one value as NPPES does (embedded double quotes become single quotes)."""
    return '"' + value.replace('"', "'") + '"'


def _empty(count: int) -> str:
    return ',""' * count


def _dates(last: dt.date) -> tuple[str, ...]:
    days = (last - _FIRST_DAY).days + 1
    return tuple((_FIRST_DAY + dt.timedelta(d)).strftime("%m/%d/%Y") for d in range(days))


def _fax_beside(phone: str) -> str:
    """The fax number one above ``phone`` (last four digits wrap), as offices often have."""
    return phone[:-4] + f"{(int(phone[-4:]) + 1) % 10_000:04d}"


class _RowMaker:
    """Builds one CSV line per call, drawing every choice from one seeded RNG."""

    _OTHER_NAMES = _empty(9)  # columns 11-19
    _AO_EMPTY = _empty(5)  # columns 42-46
    _AO_TRAILING_EMPTY = _empty(3)  # columns 311-313

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.dates = _dates(dt.date(2025, 12, 31))
        self.states = _STATES
        self.state_weights = [s[3] for s in _STATES]
        self.individual = _INDIVIDUAL_TAXONOMIES
        self.individual_weights = [t[3] for t in _INDIVIDUAL_TAXONOMIES]
        slot_width = 4 * fmt.TAXONOMY_SLOTS
        self.slot_width = slot_width
        self.ids_empty = _empty(4 * fmt.OTHER_IDENTIFIER_SLOTS)
        self.groups_empty = _empty(fmt.TAXONOMY_SLOTS)
        self.deactivated_line_tail = _empty(len(fmt.HEADER) - 1)

    def npi(self, index: int) -> str:
        body = _NPI_BODY_FIRST + (index * _NPI_STRIDE) % _NPI_BODY_SPAN
        return make_npi(str(body))

    def deactivated(self, npi: str) -> str:
        """A deactivated NPI: only the NPI and the deactivation date (column 40)."""
        date = self.dates[self.rng.randrange(len(self.dates))]
        cells = ['""'] * len(fmt.HEADER)
        cells[0] = _q(npi)
        cells[fmt.HEADER.index("NPI Deactivation Date")] = _q(date)
        return ",".join(cells) + "\n"

    def address(self) -> tuple[str, str, str, str]:
        rng = self.rng
        state, zip_prefix, cities, _ = rng.choices(self.states, self.state_weights)[0]
        city = rng.choice(cities)
        line1 = f"{rng.randrange(1, 9999)} {rng.choice(_STREETS)}"
        postal = f"{zip_prefix}{rng.randrange(10_000_000, 99_999_999):08d}"
        return line1, city, state, postal

    def phone(self) -> str:
        return f"{self.rng.randrange(201, 989)}{self.rng.randrange(2_000_000, 9_999_999)}"

    def line(self, npi: str, reactivated: bool) -> tuple[str, bool]:
        """One full data row; returns the line and whether it is an organisation."""
        rng = self.rng
        line1, city, state, postal = self.address()
        enum_day = rng.randrange(len(self.dates) - 400)
        enumerated = self.dates[enum_day]
        updated = self.dates[rng.randrange(enum_day, len(self.dates))]
        deactivation = reactivation = ""
        if reactivated:
            off_day = rng.randrange(enum_day, len(self.dates) - 200)
            deactivation = self.dates[off_day]
            reactivation = self.dates[off_day + rng.randrange(1, 200)]
        organisation = rng.random() < ORGANISATION_SHARE
        phone = self.phone()
        last = rng.choice(_LAST)
        if organisation:
            code, pattern = rng.choice(_ORGANISATION_TAXONOMIES)
            name = pattern.format(city=city, last=last)
            ao_first = rng.choice(_FEMALE if rng.random() < 0.5 else _MALE)
            names = f',"2","","",{_q(name)},"","","","","",""'
            sex = ""
            slots = [(code, "", "", "Y")]
            official = (
                f",{_q(rng.choice(_LAST))},{_q(ao_first)},\"\",\"ADMINISTRATOR\",{_q(phone)}"
            )
            trailing = ',"","N","",""' + self._AO_TRAILING_EMPTY
        else:
            female = rng.random() < 0.5
            first = rng.choice(_FEMALE if female else _MALE)
            middle = chr(65 + rng.randrange(26)) if rng.random() < 0.6 else ""
            slots = []
            for slot in range(1 if rng.random() < 0.8 else rng.randrange(2, 4)):
                code, credential, prefix, _ = rng.choices(
                    self.individual, self.individual_weights
                )[0]
                if slot == 0:
                    main_credential = credential
                licence_state = state if slot == 0 else rng.choice(self.states)[0]
                number = f"{prefix}{rng.randrange(10_000, 999_999)}"
                slots.append((code, number, licence_state, "Y" if slot == 0 else "N"))
            names = (
                f',"1","","","",{_q(last)},{_q(first)},{_q(middle)},'
                f"{_q(rng.choice(_PREFIXES))},{_q(rng.choice(_SUFFIXES))},"
                f"{_q(main_credential)}"
            )
            sex = "F" if female else "M"
            official = self._AO_EMPTY
            trailing = f',{_q("Y" if rng.random() < 0.3 else "N")},"","",""' + (
                self._AO_TRAILING_EMPTY
            )
        mailing = f"{_q(line1)},\"\",{_q(city)},{_q(state)},{_q(postal)},\"US\",{_q(phone)},\"\""
        # The practice's fax is the line beside its phone (drawn from nothing, so the
        # rest of the file is what the seed made it before the fax column was filled).
        practice = mailing.removesuffix('""') + _q(_fax_beside(phone))
        taxonomy = "".join(f",{_q(a)},{_q(b)},{_q(c)},{_q(d)}" for a, b, c, d in slots)
        taxonomy += _empty(self.slot_width - 4 * len(slots))
        certified = ""
        if rng.random() < 0.4:
            certified = self.dates[rng.randrange(enum_day, len(self.dates))]
        dates = f",{_q(enumerated)},{_q(updated)},\"\",{_q(deactivation)},{_q(reactivation)}"
        return (
            _q(npi)
            + names
            + self._OTHER_NAMES
            + ","
            + mailing
            + ","
            + practice
            + dates
            + f",{_q(sex)}"
            + official
            + taxonomy
            + self.ids_empty
            + trailing
            + self.groups_empty
            + f",{_q(certified)}\n",
            organisation,
        )


def generate_nppes_file(
    path: str | os.PathLike[str],
    rows: int,
    *,
    seed: int = 0,
    progress: GenerateProgress | None = None,
    header: Sequence[str] = fmt.HEADER,
) -> GeneratedFile:
    """Write ``rows`` data rows (plus the header) to ``path``, streamed to disk."""
    if rows < 0:
        raise ValueError("rows must not be negative")
    maker = _RowMaker(seed)
    out = Path(path)
    organisations = deactivated = reactivated = 0
    with open(out, "w", encoding="utf-8", newline="", buffering=1 << 20) as stream:
        stream.write(",".join(_q(name) for name in header) + "\n")
        chunk: list[str] = []
        for index in range(rows):
            npi = maker.npi(index)
            draw = maker.rng.random()
            if draw < DEACTIVATED_SHARE:
                chunk.append(maker.deactivated(npi))
                deactivated += 1
            else:
                is_reactivated = draw < DEACTIVATED_SHARE + REACTIVATED_SHARE
                text, organisation = maker.line(npi, is_reactivated)
                chunk.append(text)
                organisations += organisation
                reactivated += is_reactivated
            if len(chunk) >= 1_000:
                stream.write("".join(chunk))
                chunk.clear()
            if progress is not None and (index + 1) % _PROGRESS_EVERY == 0:
                progress(index + 1, rows)
        stream.write("".join(chunk))
    if progress is not None:
        progress(rows, rows)
    return GeneratedFile(out, rows, organisations, deactivated, reactivated, out.stat().st_size)
