"""Read the records of an NPPES data file, splitting only the columns the importer uses.

NPPES double-quotes every value, so nearly every line reads
``"v1","v2",…,"vn"`` with no quote inside a value. For such a line, splitting
on ``","`` gives exactly the values the csv module would, and stopping the
split after the last column the importer reads skips building the ~220
strings per row (other identifiers, taxonomy groups) that it never looks at;
the csv module would build all 330. A line takes that path only when its
quote count proves the shape: with ``n - 1`` separators and ``2n`` quotes,
where the first and last quote are not part of a separator, every quote is a
delimiter and no value holds a quote or a line break. Any other record (a
quote inside a value, a value spanning lines, an unquoted value, a short row)
goes to the csv module, which reads further lines while a quoted value
continues, so both paths yield the same values.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import chain
from typing import TextIO

_SEPARATOR = '","'
_QUOTED_ENDINGS = ('"\r\n', '"\n', '"\r', '"')


def read_header(text: TextIO) -> list[str] | None:
    """The header record (through csv: it is read once), or None for an empty file."""
    return next(csv.reader(text, dialect="excel", strict=False), None)


def read_records(text: TextIO, width: int, keep: int) -> Iterator[tuple[list[str], int]]:
    """Yield ``(values, columns)`` for each record after the header.

    ``values`` holds at least the first ``keep`` values of the record (when
    the record has that many); values past ``keep`` may be left joined in one
    trailing item. ``columns`` is the record's true number of values, so the
    caller can refuse a record narrower than the header of ``width`` columns.
    """
    quotes = 2 * width
    separators = width - 1
    split = min(keep, separators)
    whole = split == separators
    for line in text:
        if (
            line.count('"') == quotes
            and line.count(_SEPARATOR) == separators
            and line.startswith('"')
            and line.endswith(_QUOTED_ENDINGS)
            and not line.startswith(_SEPARATOR)
            and not line.rstrip("\r\n").endswith(_SEPARATOR)
        ):
            values = line.split(_SEPARATOR, split)
            values[0] = values[0][1:]
            if whole:
                values[-1] = values[-1].rstrip("\r\n")[:-1]
            yield values, width
        else:
            record = next(csv.reader(chain((line,), text), dialect="excel", strict=False), [])
            yield record, len(record)
