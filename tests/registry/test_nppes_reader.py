"""The fast record reader yields what the csv module reads, whatever the record looks like."""

from __future__ import annotations

import csv
import io
import random

import pytest

from bots.gatekeeper.registry.nppes_reader import read_header, read_records

WIDTH = 8
#: Pieces that make a value awkward for a line splitter.
AWKWARD = ["", "A", "O'BRIEN, MD", ",", '"', '","', '""', "\n", "\r\n", "x y"]


def quoted_line(values: list[str], ending: str = "\r\n") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator=ending).writerow(values)
    return buffer.getvalue()


def read_both(body: str, keep: int) -> tuple[list[tuple[list[str], int]], list[list[str]]]:
    header = quoted_line([f"c{i}" for i in range(WIDTH)])
    fast = io.StringIO(header + body, newline="")
    assert read_header(fast) == [f"c{i}" for i in range(WIDTH)]
    ours = list(read_records(fast, WIDTH, keep))
    reference = list(csv.reader(io.StringIO(body, newline=""), dialect="excel", strict=False))
    return ours, reference


def assert_same(body: str, keep: int) -> None:
    ours, reference = read_both(body, keep)
    assert len(ours) == len(reference)
    for (values, columns), expected in zip(ours, reference, strict=True):
        assert columns == len(expected)
        assert values[:keep] == expected[:keep]


@pytest.mark.parametrize("keep", [1, 3, WIDTH - 1, WIDTH])
def test_random_awkward_records_read_as_csv_reads_them(keep: int) -> None:
    chance = random.Random(keep)
    lines = []
    for _ in range(400):
        width = chance.choice([WIDTH, WIDTH, WIDTH, WIDTH - 1, WIDTH + 1, 1])
        values = ["".join(chance.choices(AWKWARD, k=chance.randint(0, 3))) for _ in range(width)]
        ending = chance.choice(["\r\n", "\n"])
        if chance.random() < 0.1:
            lines.append(",".join(v.replace('"', "").replace("\n", "") for v in values) + ending)
        else:
            lines.append(quoted_line(values, ending))
    assert_same("".join(lines), keep)


@pytest.mark.parametrize(
    "body",
    [
        '"1","2","3","4","5","6","7","8"',  # last line without a line break
        '"1","2","3","4","5","6","7","8"\r\n\r\n"1","2","3","4","5","6","7","8"\n',  # blank line
        # Quote and separator counts fit, but a separator holds the first or last quote.
        '","a,",,",",,a","",",","","",",a"\n',
        '",,",""","",",","","aaaa","","\n',
        '"1","2","3","4","5","6","7",""",""\n',
        '"1","2,3","4","5","6","7","8","9"\n',  # a comma inside a value
        '"1","2\r\n3","4","5","6","7","8","9"\r\n',  # a value spanning lines
    ],
)
def test_edge_records_read_as_csv_reads_them(body: str) -> None:
    for keep in (2, WIDTH):
        assert_same(body, keep)


def test_values_past_keep_are_not_split() -> None:
    ours, _ = read_both(quoted_line([str(i) for i in range(WIDTH)]), 3)
    (values, columns), = ours
    assert columns == WIDTH
    assert values[:3] == ["0", "1", "2"] and len(values) == 4


def test_an_empty_file_has_no_header() -> None:
    assert read_header(io.StringIO("", newline="")) is None
