"""SPEC 3.2 byte format: BOM, `;`, quotes, CRLF, decimal comma, formula prefix; hostile names."""

from __future__ import annotations

from conftest import event

from pipeline.csv_export import cell, csv_text


def test_cells():
    assert cell("a") == '"a"'
    assert cell('say "hi"') == '"say ""hi"""'
    assert (
        cell(4.5) == '"4,50"'
        and cell(0.125 + 0.005) == '"0,13"'
        and cell(None) == '""'
        and cell(12) == '"12"'
    )
    for prefix in ("=", "+", "-", "@", "\t", "\r"):
        assert cell(prefix + "SUM(A1)") == "\"'" + prefix + 'SUM(A1)"'
    assert cell("a=b") == '"a=b"'


def test_file_shape():
    text = csv_text(("A", "B"), [(1, "x;y"), (None, "line\nbreak")])
    assert text == '\ufeff"A";"B"\r\n"1";"x;y"\r\n"";"line\nbreak"\r\n'


def test_hostile_names_land_escaped(make_site):
    name = 'Lycée "Arts & Métiers" <Pilote>'
    site = make_site(
        [event("ACCESS", module='=HYPERLINK("http://x")'), event()],
        as_of="2026-03-31",
        structures=[("s1", "0750001A", name)],
        classes=[("c1", "s1", "-2nde")],
    )
    raw = (site.root / "structures/s1/csv/top_apps-12months.csv").read_bytes()
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
