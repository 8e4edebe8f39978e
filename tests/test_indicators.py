"""SPEC 2, end to end through the real pipeline on tiny inputs: each rule that can go wrong."""

from __future__ import annotations

import numpy as np
from conftest import event

from pipeline.indicator_math import ratio_hundredths

S1 = "structures/s1"


def test_connections_and_activations_by_profile_with_zeros(make_site):
    site = make_site(
        [
            event(when="2026-03-10 09:00", profile="Teacher"),
            event(when="2026-03-10 09:30", user="u2", profile="Student"),
            event(when="2026-03-11 09:00", user="u2", profile="Student"),
            event("ACTIVATION", when="2026-03-11 10:00", user="u3", profile="Relative"),
            event("GET_RESOURCE", when="2026-03-11 10:00"),
        ],
        as_of="2026-03-31",
    )
    assert site.value("connections-by-day.csv", Date="2026-03-10", Profil="Tous") == "2"
    assert site.value("connections-by-day.csv", Date="2026-03-10", Profil="Élèves") == "1"
    assert site.value("connections-by-day.csv", Date="2026-03-10", Profil="Autres") == "0"
    assert site.value("activations-by-month.csv", Date="2026-03-01", Profil="Parents") == "1"
    assert site.tile("connections") == 3 and site.tile("activations") == 1
    rows = site.rows("connections-by-day.csv")
    assert len(rows) == 396 * 6
    assert [r["Profil"] for r in rows[:6]] == [
        "Tous",
        "Enseignants",
        "Élèves",
        "Parents",
        "Personnels",
        "Autres",
    ]


def test_local_midnight_and_month_end_in_local_time(make_site):
    # 2026-03-31 23:30 Paris is 21:30 UTC; 2026-04-01 00:30 Paris is 2026-03-31 22:30 UTC.
    site = make_site(
        [event(when="2026-03-31 23:30"), event(when="2026-04-01 00:30"), event(when="2026-02-28 23:59:59")],
        as_of="2026-04-01",
    )
    assert site.value("connections-by-day.csv", Date="2026-03-31", Profil="Tous") == "1"
    assert site.value("connections-by-day.csv", Date="2026-04-01", Profil="Tous") == "1"
    assert site.value("connections-by-month.csv", Date="2026-02-01", Profil="Tous") == "1"
    assert site.value("hourly_peak-month.csv", Profil="Tous", Créneau="00h-01h") == "1"
    assert site.tile("unique_visitors") == 1  # only April 1st is in the month period


def test_data_after_the_reference_day_is_left_out(make_site):
    site = make_site([event(when="2026-03-10 10:00"), event(when="2026-03-11 10:00")], as_of="2026-03-10")
    assert site.tile("connections") == 1


def test_summer_time_change_days_and_hour_slots(make_site):
    # 2026-03-29: 02:00 → 03:00 (23-hour day). 2025-10-26: 03:00 → 02:00 (02h-03h twice, 25-hour day).
    from zoneinfo import ZoneInfo

    from conftest import PARIS, ms  # noqa: F401

    utc = ZoneInfo("UTC")
    documents = [
        event(date=ms("2026-03-29 00:59", utc)),  # 01:59 CET
        event(date=ms("2026-03-29 01:00", utc)),  # 03:00 CEST
        event(date=ms("2026-03-29 21:59", utc)),  # 23:59 CEST, still the 29th
        event(date=ms("2025-10-26 00:30", utc)),  # 02:30 CEST
        event(date=ms("2025-10-26 01:30", utc)),  # 02:30 CET, the second 02h-03h
        event(date=ms("2025-10-26 22:59", utc)),  # 23:59 CET, still the 26th
    ]
    for d in documents:
        d["date"] = {"$numberLong": str(d["date"])}
    site = make_site(documents, as_of="2026-03-31")
    assert site.value("connections-by-day.csv", Date="2026-03-29", Profil="Tous") == "3"
    assert site.value("connections-by-day.csv", Date="2025-10-26", Profil="Tous") == "3"
    assert site.value("hourly_peak-12months.csv", Profil="Tous", Créneau="02h-03h") == "2"
    assert site.value("hourly_peak-12months.csv", Profil="Tous", Créneau="01h-02h") == "1"
    assert site.value("hourly_peak-12months.csv", Profil="Tous", Créneau="03h-04h") == "1"
    assert site.tile("hourly_peak") == "02h-03h"


def test_a_user_in_two_structures_counts_in_each_and_once_on_the_platform(make_site):
    site = make_site(
        [event(structures=["s1", "s2"]), event(structures=["s2", "s2"], when="2026-03-10 11:00")],
        as_of="2026-03-31",
    )
    assert site.tile("connections", S1) == 1
    assert site.tile("connections", "structures/s2") == 2
    assert site.tile("connections") == 2
    assert site.tile("unique_visitors") == 1 and site.tile("unique_visitors", "structures/s2") == 1


def test_a_user_with_two_profiles_counts_once_in_tous(make_site):
    site = make_site(
        [event(profile="Teacher"), event(profile="Relative", when="2026-03-12 19:00")], as_of="2026-03-31"
    )
    assert site.value("unique_visitors-by-month.csv", Date="2026-03-01", Profil="Tous") == "1"
    assert site.value("unique_visitors-by-month.csv", Date="2026-03-01", Profil="Enseignants") == "1"
    assert site.value("unique_visitors-by-month.csv", Date="2026-03-01", Profil="Parents") == "1"
    assert site.value("visits_per_visitor-by-month.csv", Date="2026-03-01", Profil="Tous") == "2,00"
    assert site.tile("unique_visitors") == 1


def test_unique_visitors_of_weeks_months_and_periods_are_not_sums_of_days(make_site):
    days = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-30", "2026-03-31", "2026-04-01"]
    site = make_site(
        [event(when=f"{d} 10:00", user="u1") for d in days] + [event(when="2026-03-03 11:00", user="u2")],
        as_of="2026-04-01",
    )
    assert site.value("unique_visitors-by-day.csv", Date="2026-03-03", Profil="Tous") == "2"
    assert site.value("unique_visitors-by-week.csv", Date="2026-03-02", Profil="Tous") == "2"
    assert (
        site.value("unique_visitors-by-week.csv", Date="2026-03-30", Profil="Tous") == "1"
    )  # spans 2 months
    assert site.value("unique_visitors-by-month.csv", Date="2026-03-01", Profil="Tous") == "2"
    assert site.value("connections-by-week.csv", Date="2026-03-30", Profil="Tous") == "3"
    assert site.value("visits_per_visitor-by-week.csv", Date="2026-03-30", Profil="Tous") == "3,00"
    assert site.summary()["visitors"]["12months"]["all"] == 2
    assert site.tile("unique_visitors") == 1


def test_weekly_buckets_cut_by_the_period_start(make_site):
    # 12 months before 2026-03-31 starts 2025-03-01 (a Saturday): its week is labelled Monday 2025-02-24.
    site = make_site([event(when="2025-02-28 10:00"), event(when="2025-03-01 10:00")], as_of="2026-03-31")
    rows = site.rows("connections-by-week.csv")
    assert rows[0]["Date"] == "2025-02-24" and rows[0]["Connexions"] == "1"


def test_ratio_rounds_half_up_to_two_decimals(make_site):
    assert ratio_hundredths(np.array([1, 2, 1, 5, 0]), np.array([8, 3, 0, 2, 4])).tolist() == [
        13,
        67,
        -1,
        250,
        0,
    ]
    # 1/8 = 0.125 → 0,13 (half up, where binary floats would give 0,12)
    documents = [event(when="2026-03-10 10:00", user="u1")]
    documents += [event(when=f"2026-03-10 1{h}:00", user=f"v{h}", profile="Student") for h in range(7)]
    site = make_site(documents, as_of="2026-03-31")
    assert site.value("visits_per_visitor-by-day.csv", Date="2026-03-10", Profil="Tous") == "1,00"
    assert site.value("visits_per_visitor-by-day.csv", Date="2026-03-11", Profil="Tous") == ""
    assert site.tile("visits_per_visitor") == 1.0


def test_ties_apps_alphabetical_slots_earliest_weekdays_from_monday(make_site):
    site = make_site(
        [
            event("ACCESS", module="Wiki", when="2026-03-10 08:10"),
            event("ACCESS", module="Blog", when="2026-03-10 18:10"),
            event(when="2026-03-10 18:00"),  # Tuesday 18h
            event(when="2026-03-13 08:00"),  # Friday 8h
        ],
        as_of="2026-03-31",
    )
    assert site.tile("top_apps") == "Blog"
    assert site.tile("hourly_peak") == "08h-09h"
    assert site.tile("weekly_peak") == "Mardi"
    apps = site.rows("top_apps-12months.csv")
    assert [(r["Profil"], r["Application"], r["Accès"]) for r in apps] == [
        ("Tous", "Blog", "1"),
        ("Tous", "Wiki", "1"),
        ("Enseignants", "Blog", "1"),
        ("Enseignants", "Wiki", "1"),
    ]


def test_entities_with_no_data(make_site):
    site = make_site([event(structures=["s1"])], as_of="2026-03-31")
    tiles = site.summary("structures/s2")["tiles"]
    assert {k: v["value"] for k, v in tiles.items()} == {
        "connections": 0,
        "unique_visitors": 0,
        "visits_per_visitor": None,
        "top_apps": None,
        "hourly_peak": None,
        "weekly_peak": None,
        "activations": 0,
    }
    assert len(site.rows("hourly_peak-month.csv", "structures/s2")) == 24 * 6
    assert site.rows("top_apps-month.csv", "structures/s2") == []


def test_classes_and_structures_absent_from_the_snapshot(make_site):
    site = make_site([event(structures=["s9"], classes=["c1", "c9"])], as_of="2026-03-31")
    assert site.tile("connections", "structures/s9") == 1
    assert site.rows("connections-by-month.csv", "structures/s9")[0]["Établissement"] == "s9"
    assert (
        site.tile("connections", "structures/s1/classes/c1") == 1
    )  # the class sits under its snapshot parent
    assert not (site.root / "structures/s9/classes/c9").exists()
    assert site.report["entities"]["structures_not_in_snapshot"] == ["s9"]
    assert site.report["entities"]["classes_not_in_snapshot"] == ["c9"]


def test_other_timezone(make_site):
    site = make_site([event(when="2026-03-10 23:30")], as_of="2026-03-31", timezone="UTC")
    assert site.value("connections-by-day.csv", Date="2026-03-10", Profil="Tous") == "1"
    assert site.value("hourly_peak-month.csv", Profil="Tous", Créneau="22h-23h") == "1"


def _app_sums(counts) -> dict[tuple[int, int], int]:
    cells, modules, n = counts.rows()
    return {(int(c), int(m)): int(k) for c, m, k in zip(cells, modules, n)}


def test_app_counts_dense_and_sparse_give_the_same_sums(monkeypatch):
    """The dense accumulator, one that turns sparse half-way (past its memory bound) and a dictionary sum
    agree, Tous (profile 0) being the sum of the profiles."""
    import numpy as np

    from pipeline import indicators

    rng = np.random.default_rng(5)
    n_entities, n_profiles = 7, indicators.N_PROFILES
    days = []
    for day in range(30):
        rows = int(rng.integers(0, 40))
        entity = rng.integers(0, n_entities, rows)
        profile = rng.integers(1, n_profiles, rows)
        module = rng.integers(0, 3 + day, rows)  # modules keep appearing: the dense form widens
        days.append((entity * n_profiles + profile, module, rng.integers(1, 9, rows)))
    expected: dict[tuple[int, int], int] = {}
    for cells, modules, counts in days:
        for c, m, k in zip(cells.tolist(), modules.tolist(), counts.tolist()):
            for cell in (c, c - c % n_profiles):  # its profile, and Tous
                expected[(cell, m)] = expected.get((cell, m), 0) + k

    dense = indicators.AppCounts(n_entities)
    for day in days:
        dense.add(*day)
    assert dense.dense is not None and _app_sums(dense) == expected

    monkeypatch.setattr(indicators, "DENSE_APP_BYTES", n_entities * n_profiles * 20 * 8)
    monkeypatch.setattr(indicators, "COMPACT_ROWS", 50)
    turning = indicators.AppCounts(n_entities)
    for day in days:
        turning.add(*day)
    assert turning.dense is None and _app_sums(turning) == expected


def test_app_counts_widen_from_int32_before_a_sum_could_overflow():
    from pipeline import indicators

    counts = indicators.AppCounts(2)
    big = 2**31 - 10  # a platform's year of one module could come near it
    counts.add(np.array([1]), np.array([0]), np.array([big]))
    assert counts.dense is not None and counts.dense.dtype == np.int32
    counts.add(np.array([1, 7]), np.array([0, 0]), np.array([5, 20]))  # now past int32: widened first
    assert counts.dense.dtype == np.int64
    cells, modules, n = counts.rows()
    assert dict(zip(zip(cells.tolist(), modules.tolist()), n.tolist())) == {
        (0, 0): big + 5,  # Tous of entity 0
        (1, 0): big + 5,
        (6, 0): 20,
        (7, 0): 20,
    }


def test_the_months_presence_and_each_periods_app_counts_are_dropped_before_ranking(make_site, monkeypatch):
    """Memory: at regional size the months' presence keys (1.2 GB) and each period's dense app counts
    (up to 384 MB) were all still held while the apps were ranked, the indicator stage's peak."""
    from pipeline import indicators, presence

    loaded, seen = [], []
    load_months, joined = presence.load_months, indicators.RankedApps.joined

    def keep_months(*args):
        loaded.append(load_months(*args))
        return loaded[-1]

    def watch_ranking(*args, **kwargs):
        seen.append(sum(len(m.keys) for m in loaded[-1].values()))
        return joined(*args, **kwargs)

    monkeypatch.setattr(presence, "load_months", keep_months)
    monkeypatch.setattr(indicators.RankedApps, "joined", watch_ranking)
    site = make_site(
        [event("ACCESS", when="2026-03-10 09:00", module="Blog"), event(when="2026-02-10 09:00", user="u2")],
        as_of="2026-03-31",
    )
    assert site.tile("top_apps") == "Blog" and site.tile("unique_visitors") == 0
    assert seen == [0, 0]  # two periods ranked, no presence key held any more
    assert loaded and not loaded[-1]


def test_apps_ranked_a_few_entities_at_a_time_rank_as_all_at_once(make_site, monkeypatch):
    from pipeline import indicators

    documents = [
        event(
            "ACCESS",
            when=f"2026-03-{1 + k % 28:02d} 09:00",
            user=f"u{k % 5}",
            module=f"M{k % 4}",
            profile=["Teacher", "Student", "Relative"][k % 3],
            structures=[f"s{1 + k % 2}"],
            classes=["c1"],
        )
        for k in range(60)
    ]
    whole = make_site(documents, as_of="2026-03-31")
    monkeypatch.setattr(indicators, "RANK_ENTITIES", 1)  # one entity per piece: the platform, s1, s2, c1
    pieces = make_site(documents, as_of="2026-03-31")
    for folder in ("platform", "structures/s1", "structures/s2", "structures/s1/classes/c1"):
        for name in ("top_apps-month.csv.gz", "top_apps-12months.csv.gz"):
            stored = f"{folder}/csv/{name}"
            assert (pieces.root / stored).read_bytes() == (whole.root / stored).read_bytes(), stored
    assert (whole.root / "platform/csv/top_apps-month.csv.gz").stat().st_size > 100
