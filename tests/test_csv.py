"""SPEC 3.2 byte format, through the writer production uses (`entity_csvs`): BOM, `;`, every field quoted
(header too), CRLF on every line (the last too), decimal comma, empty ratio cells, formula prefix, `""`.
Half-up rounding of the ratio (`ratio_hundredths`, integer arithmetic) where binary floats would go wrong."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pytest
from conftest import csv_bytes, event

from pipeline.constants import GROUPINGS, PERIODS, PROFILE_CODES, PROFILE_LABELS, SERIES_INDICATORS
from pipeline.csv_export import cell, entity_csvs
from pipeline.indicator_math import ratio_hundredths
from pipeline.model import CLASS, Entity, EntityFigures, Series

BOM = b"\xef\xbb\xbf"
PROFILE_LABELS_IN_ORDER = [PROFILE_LABELS[code] for code in PROFILE_CODES]
AS_OF = date(2026, 3, 31)
STRUCTURE_NAME = 'Lycée "Arts & Métiers"'  # a quote inside a name: doubled in its cell
MODULES = [  # (name, count) most first, then by name; every formula-looking first character of SPEC 3.2
    ('=HYPERLINK("http://x")', 9),
    ("+33 Annuaire", 8),
    ("-Blog", 7),
    ("@Wiki", 6),
    ("\tTab", 5),
    ("\rCR", 4),
    ("Mail;Agenda", 3),
    ("a=b", 2),
]


def hand_made_figures() -> EntityFigures:
    """One class's figures, written by hand: two buckets per grouping, a ratio of 4.5 and empty ratios."""
    entity = Entity(
        kind=CLASS,
        id="c1",
        name="=2nde A",
        path="structures/s1/classes/c1",
        structure_id="s1",
        structure_name=STRUCTURE_NAME,
        uai="0750001A",
        class_name="=2nde A",
    )
    starts = {
        "day": [date(2026, 3, 30), date(2026, 3, 31)],
        "week": [date(2025, 2, 24), date(2026, 3, 30)],  # a week labelled by its Monday before the period
        "month": [date(2026, 2, 1), date(2026, 3, 1)],
    }
    counts = np.array([[9, 9, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]], dtype=np.int64)
    visitors = np.array([[2, 2, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]], dtype=np.int64)
    nan = float("nan")
    ratios = np.array([[4.5, 4.5, nan, nan, nan, nan], [nan] * 6])
    values = {
        "connections": counts,
        "unique_visitors": visitors,
        "visits_per_visitor": ratios,
        "activations": counts,
    }
    series = {
        indicator: {g: Series(starts[g], values[indicator]) for g in GROUPINGS}
        for indicator in SERIES_INDICATORS
    }
    apps = {p: {c: (MODULES if c in ("all", "Teacher") else []) for c in PROFILE_CODES} for p in PERIODS}
    hours = {p: {code: [0] * 8 + [9] + [0] * 15 for code in PROFILE_CODES} for p in PERIODS}
    weekdays = {p: {code: [9, 0, 0, 0, 0, 0, 0] for code in PROFILE_CODES} for p in PERIODS}
    return EntityFigures(
        entity=entity,
        as_of=AS_OF,
        period_starts={"month": date(2026, 3, 1), "12months": date(2025, 3, 1)},
        tiles={},
        series=series,
        apps=apps,
        hours=hours,
        weekdays=weekdays,
    )


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return entity_csvs(hand_made_figures())


def test_every_file_of_spec_3_2():
    names = set(entity_csvs(hand_made_figures()))
    expected = {f"{i}-by-{g}.csv" for i in SERIES_INDICATORS for g in GROUPINGS}
    expected |= {f"{i}-{p}.csv" for i in ("top_apps", "hourly_peak", "weekly_peak") for p in PERIODS}
    assert names == expected and len(names) == 18


HEAD = '"\'=2nde A"'  # the class name starts with "=": prefixed with a quote inside its cell
ROW = f'"Lycée ""Arts & Métiers""";"0750001A";{HEAD}'


def test_a_ratio_file_byte_for_byte(files):
    lines = ['"Établissement";"UAI";"Classe";"Date";"Profil";"Visites par visiteur unique"']
    for day, tous, teacher in (("2026-02-01", "4,50", "4,50"), ("2026-03-01", "", "")):
        for label, value in zip(
            ("Tous", "Enseignants", "Élèves", "Parents", "Personnels", "Autres"),
            (tous, teacher, "", "", "", ""),
        ):
            lines.append(f'{ROW};"{day}";"{label}";"{value}"')
    expected = BOM + "".join(line + "\r\n" for line in lines).encode("utf-8")
    assert files["visits_per_visitor-by-month.csv"] == expected


def test_a_count_file_byte_for_byte(files):
    data = files["connections-by-week.csv"]
    assert data.startswith(BOM + '"Établissement";"UAI";"Classe";"Date";"Profil";"Connexions"\r\n'.encode())
    assert data.endswith(f'{ROW};"2026-03-30";"Autres";"0"\r\n'.encode())
    assert f'{ROW};"2025-02-24";"Tous";"9"\r\n'.encode() in data
    assert data.count(b"\r\n") == 1 + 2 * 6


def test_an_apps_file_byte_for_byte(files):
    def rows(label: str) -> list[str]:
        return [
            f'{ROW};"{label}";"\'=HYPERLINK(""http://x"")";"9"',
            f'{ROW};"{label}";"\'+33 Annuaire";"8"',
            f'{ROW};"{label}";"\'-Blog";"7"',
            f'{ROW};"{label}";"\'@Wiki";"6"',
            f'{ROW};"{label}";"\'\tTab";"5"',
            f'{ROW};"{label}";"\'\rCR";"4"',
            f'{ROW};"{label}";"Mail;Agenda";"3"',
            f'{ROW};"{label}";"a=b";"2"',
        ]

    header = '"Établissement";"UAI";"Classe";"Profil";"Application";"Accès"'
    lines = [header, *rows("Tous"), *rows("Enseignants")]
    expected = BOM + "".join(line + "\r\n" for line in lines).encode("utf-8")
    assert files["top_apps-12months.csv"] == expected


def test_numbers_of_any_size_and_names_of_any_length():
    """Every value past the writer's table of small numbers (65,536 counts and ratios) is cast on its own,
    inline in its string view (12 bytes with the row's end) or not; a row's name cells as short as 9 bytes
    are held inline too. The rows equal a cell-by-cell writing."""
    figures = hand_made_figures()
    nan = float("nan")
    counts = [0, 65_535, 65_536, 999_999_999, 1_000_000_000, 2**40, 7, 12, 99_999, 1, 3, 4]
    ratios = [0.0, 655.35, 655.36, 99_999.99, 100_000.0, 12_345_678.9, nan, 1.5, 0.01, 2.5, nan, 7.0]
    bare = dataclasses.replace(figures.entity, structure_name="", uai="", class_name="")
    figures = dataclasses.replace(figures, entity=bare)
    for indicator, values in (("connections", counts), ("visits_per_visitor", ratios)):
        series = figures.series[indicator]["day"]
        array = np.array(values, dtype=np.int64 if indicator == "connections" else float).reshape(-1, 6)
        figures.series[indicator] = {**figures.series[indicator], "day": Series(series.labels, array)}
    files = entity_csvs(figures)
    for name, values in (("connections-by-day.csv", counts), ("visits_per_visitor-by-day.csv", ratios)):
        labels = [day.isoformat() for day in figures.series["connections"]["day"].labels]
        rows = [
            ";".join(cell(v) for v in ("", "", "", labels[k // 6], profile, None if v != v else v))
            for k, (v, profile) in enumerate(zip(values, PROFILE_LABELS_IN_ORDER * 2))
        ]
        assert files[name].split(b"\r\n", 1)[1] == "".join(r + "\r\n" for r in rows).encode(), name
    assert b'"";"";"";"2026-03-30";"Autres";"1099511627776"\r\n' in files["connections-by-day.csv"]
    assert b'"2026-03-30";"Autres";"12345678,90"\r\n' in files["visits_per_visitor-by-day.csv"]


def test_every_file_has_the_byte_format(files):
    for name, data in files.items():
        assert data.startswith(BOM + b'"'), name
        assert data.endswith(b'"\r\n'), name
        # every line ends with CRLF: the only CR and LF left are the two cells that hold one on purpose
        assert data.replace(b"\r\n", b"").replace(b"'\rCR", b"").count(b"\r") == 0, name
        assert b"\n" not in data.replace(b"\r\n", b""), name
        text = data[len(BOM) :].decode("utf-8").replace("'\rCR", "")
        for line in text.split("\r\n")[:-1]:
            assert line.startswith('"') and line.endswith('"'), (name, line)
            fields = line[1:-1].split('";"')
            assert all('"' not in f.replace('""', "") for f in fields), (name, line)
    hours = files["hourly_peak-month.csv"].decode("utf-8")
    assert f'{ROW};"Tous";"08h-09h";"9"\r\n' in hours and hours.count("\r\n") == 1 + 24 * 6
    weekdays = files["weekly_peak-12months.csv"].decode("utf-8")
    assert f'{ROW};"Personnels";"Lundi";"9"\r\n{ROW};"Personnels";"Mardi";"0"\r\n' in weekdays


def test_cells():
    assert cell("a") == '"a"'
    assert cell('say "hi"') == '"say ""hi"""'
    assert cell(None) == '""' and cell(12) == '"12"' and cell(4.5) == '"4,50"'
    for prefix in ("=", "+", "-", "@", "\t", "\r"):
        assert cell(prefix + "SUM(A1)") == "\"'" + prefix + 'SUM(A1)"'
    assert cell("a=b") == '"a=b"'


@pytest.mark.parametrize(
    "connections, visitors, hundredths",
    [
        (1, 8, 13),  # 0.125 is exact in binary; round(0.125, 2) and f"{0.125:.2f}" give 0.12 (half to even)
        (3, 8, 38),  # 0.375: round() gives 0.38 only because half to even lands on an even digit
        (5, 8, 63),  # 0.625: round() gives 0.62
        (7, 8, 88),  # 0.875: round() gives 0.88, again only by half to even
        (1, 40, 3),  # 0.025: the float is 0.0250000000000000013…, right by luck; the integers are exact
        (201, 200, 101),  # 1.005: the float is 1.00499999999999989…, round(1.005, 2) == 1.0
        (107, 40, 268),  # 2.675: the float is 2.67499999999999982…, round(2.675, 2) == 2.67
        (9, 8, 113),  # 1.125 is exact in binary: round() gives 1.12
        (2, 3, 67),  # 0.666… rounds up
        (1, 3, 33),  # 0.333… rounds down
        (0, 4, 0),
        (5, 0, -1),  # no visitor: the empty cell
        (0, 0, -1),
    ],
)
def test_ratio_is_rounded_half_up_in_integers(connections, visitors, hundredths):
    out = ratio_hundredths(np.array([connections]), np.array([visitors]))
    assert out.tolist() == [hundredths]


def test_ratio_half_up_where_floats_fail():
    # the cases above are ones where float formatting differs from half up: keep them so
    assert round(1.005, 2) == 1.0 and f"{2.675:.2f}" == "2.67" and f"{1.125:.2f}" == "1.12"
    # and large counts stay exact (int64 arithmetic)
    big = ratio_hundredths(np.array([2_000_000_001]), np.array([2_000_000_000]))
    assert big.tolist() == [100]  # 1.0000000005 → 1.00
    assert ratio_hundredths(np.array([2_010_000_000]), np.array([2_000_000_000])).tolist() == [101]  # 1.005


def test_hostile_names_land_escaped(make_site):
    name = 'Lycée "Arts & Métiers" <Pilote>'
    site = make_site(
        [event("ACCESS", module='=HYPERLINK("http://x")'), event()],
        as_of="2026-03-31",
        structures=[("s1", "0750001A", name)],
        classes=[("c1", "s1", "-2nde")],
    )
    raw = csv_bytes(site.root / "structures/s1/csv/top_apps-12months.csv")
    assert raw.startswith(
        b'\xef\xbb\xbf"\xc3\x89tablissement";"UAI";"Classe";"Profil";"Application";"Acc\xc3\xa8s"\r\n'
    )
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert (
        '"Lycée ""Arts & Métiers"" <Pilote>";"0750001A";"";"Tous";"\'=HYPERLINK(""http://x"")";"1"'
        in raw.decode("utf-8")
    )
    class_rows = site.rows("connections-by-day.csv", "structures/s1/classes/c1")
    assert class_rows[0]["Classe"] == "'-2nde" and class_rows[0]["Établissement"] == name
    page = (site.root / "structures/s1/index.html").read_text(encoding="utf-8")
    assert "<Pilote>" not in page and "&lt;Pilote&gt;" in page
