"""Every constant of the contract (SPEC.md), defined once and imported everywhere."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIMEZONE = "Europe/Paris"

# SPEC 2.2: the kinds of entity, each a folder of the site
PLATFORM = "platform"
STRUCTURE = "structure"
CLASS = "class"

# SPEC 1.1 -------------------------------------------------------------------------------------------
EVENT_TYPES_USED = ("LOGIN", "ACCESS", "ACTIVATION")
ID_ALPHABET_PATTERN = r"^[A-Za-z0-9_-]+$"
MIN_EVENT_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
FUTURE_TOLERANCE_MS = 86_400_000  # "more than one day in the future"
NEVER_STORED_FIELDS = ("ip", "ua")


@dataclass(frozen=True)
class Profile:
    code: str  # the ENT's `profil` value; ALL for "Tous"
    label: str
    colour: str  # SPEC 2.3
    shade: str  # the colour's hue, dark enough for 3.4:1 on white: what lines, outlines and swatches use
    shape: str  # a Vega point shape: the series' second cue beside its colour


ALL = "all"
# SPEC 2.3, in the order rows, series and legends follow.
PROFILES: tuple[Profile, ...] = (
    Profile(ALL, "Tous", "#8c939e", "#848b97", "circle"),
    Profile("Teacher", "Enseignants", "#6fbe2e", "#5b9b26", "square"),
    Profile("Student", "Élèves", "#ff8d2e", "#e06600", "triangle-up"),
    Profile("Relative", "Parents", "#46afe6", "#1c92d0", "diamond"),
    Profile("Personnel", "Personnels", "#a348c0", "#a348c0", "triangle-down"),
    Profile("Guest", "Autres", "#ff3a55", "#ff3a55", "cross"),
)
PROFILE_CODES: tuple[str, ...] = tuple(p.code for p in PROFILES)
ENT_PROFILES: frozenset[str] = frozenset(PROFILE_CODES[1:])
PROFILE_LABELS: dict[str, str] = {p.code: p.label for p in PROFILES}
PROFILE_COLOURS: dict[str, str] = {p.code: p.colour for p in PROFILES}
PROFILE_ORDER: dict[str, int] = {code: i for i, code in enumerate(PROFILE_CODES)}

# SPEC 2.1 -------------------------------------------------------------------------------------------
PERIOD_MONTH = "month"
PERIOD_12MONTHS = "12months"
PERIODS = (PERIOD_MONTH, PERIOD_12MONTHS)
PERIOD_WORDS = {PERIOD_MONTH: "depuis le début du mois", PERIOD_12MONTHS: "depuis un an"}
GROUPINGS = ("day", "week", "month")
GROUPING_LABELS = {"day": "Jour", "week": "Semaine", "month": "Mois"}

WEEKDAYS = ("Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche")
HOUR_SLOTS = tuple(f"{h:02d}h-{h + 1:02d}h" for h in range(24))
MONTH_NAMES = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


# SPEC 2.4 -------------------------------------------------------------------------------------------
DEFAULT_GROUPING = "month"  # what a detail page shows first
DEFAULT_PERIOD = PERIOD_12MONTHS
# By day, thirteen months are 396 points a series: the chart shows a window of them (days, label), the
# last one first, and the reader moves it or widens it to the whole period (0 days)
DAY_WINDOWS = {"8w": (56, "8 semaines"), "6m": (183, "6 mois"), "all": (0, "13 mois")}
DEFAULT_DAY_WINDOW = "8w"
APP_STEP = 26  # px: a bar of the apps chart, which the page's script sizes by it (charts.js)
HOLIDAY_GROUPINGS = ("day", "week")  # the groupings whose charts and tables mark school holidays (SPEC 2.6)
HOLIDAY_LEGEND = "Vacances scolaires (zone {zone})"
HOLIDAY_COLOUR = "#cbd2d9"  # the bands behind the series, and their legend swatch
HOLIDAY_ZONES = ("A", "B", "C")


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    tile_period: str
    kind: str  # "series" (by day/week/month), "apps", "hours", "weekdays"
    value_label: str  # the CSV's last column
    one_profile: bool = False  # the detail page shows one profile at a time, chosen by radio buttons
    ratio: bool = False  # values are ratios of two decimals, RATIO_OF[0] ÷ RATIO_OF[1], not counts
    summed: bool = False  # counts of events: a week's or a month's value is the sum of its days'

    @property
    def choices(self) -> tuple[str, ...]:
        """What the detail page's choice switches between: groupings for a series, else periods."""
        return GROUPINGS if self.kind == "series" else PERIODS

    @property
    def default_choice(self) -> str:
        return DEFAULT_GROUPING if self.kind == "series" else DEFAULT_PERIOD

    def csv_name(self, choice: str) -> str:
        """SPEC 3.2's file name (in csv/) of a grouping of a series, or of a period of the others."""
        assert choice in self.choices, (self.id, choice)
        return f"{self.id}-by-{choice}.csv" if self.kind == "series" else f"{self.id}-{choice}.csv"


INDICATORS: tuple[Indicator, ...] = (
    Indicator("connections", "Connexions", PERIOD_12MONTHS, "series", "Connexions", summed=True),
    Indicator("unique_visitors", "Visiteurs uniques", PERIOD_MONTH, "series", "Visiteurs uniques"),
    Indicator(
        "visits_per_visitor",
        "Visites par visiteur unique",
        PERIOD_MONTH,
        "series",
        "Visites par visiteur unique",
        ratio=True,
    ),
    Indicator("top_apps", "Appli la plus utilisée", PERIOD_12MONTHS, "apps", "Accès", one_profile=True),
    Indicator("hourly_peak", "Pic de connexion journalier", PERIOD_12MONTHS, "hours", "Connexions"),
    Indicator("weekly_peak", "Pic de connexion hebdomadaire", PERIOD_12MONTHS, "weekdays", "Connexions"),
    Indicator(
        "activations",
        "Comptes activés",
        PERIOD_12MONTHS,
        "series",
        "Comptes activés",
        one_profile=True,
        summed=True,
    ),
)
INDICATORS_BY_ID: dict[str, Indicator] = {i.id: i for i in INDICATORS}
RATIO_OF = ("connections", "unique_visitors")  # visits per visitor: connections ÷ unique visitors
SERIES_INDICATORS = tuple(i.id for i in INDICATORS if i.kind == "series")

# SPEC 2.5 -------------------------------------------------------------------------------------------
YEAR_BEFORE_DAYS = 364  # 52 weeks: weekdays and school rhythms line up
COMPARED = ("connections", "unique_visitors", "visits_per_visitor", "activations")  # tiles with a change
CHANGE_NEW = "new"  # summary.json's change when the year before counted 0 and now does not
CHANGE_NEW_WORD = "nouveau"

# SPEC 3.5 -------------------------------------------------------------------------------------------
# the kind of entity whose folder holds a side-by-side page → (the page, its CSV in csv/, the kind it lists,
# the summary page's link to it)
SIDE_BY_SIDE = {
    PLATFORM: ("structures.html", "structures.csv", STRUCTURE, "Comparer les établissements"),
    STRUCTURE: ("classes.html", "classes.csv", CLASS, "Comparer les classes"),
}

# The runs' own history (pipeline.runs): platform/runs.html, its data and its CSV -----------------------
RUNS_PAGE, RUNS_DATA, RUNS_CSV = "runs.html", "runs-data.js", "runs.csv"
RUNS_TITLE = "Exécutions du calcul"
RUN_STAGES = {  # build.json's stages, in the order they run → their label and colour on the runs page
    "ingest": ("Ingestion", "#1d5c96"),
    "retention": ("Rétention", "#8c939e"),
    "aggregate": ("Agrégation", "#46afe6"),
    "indicators": ("Indicateurs", "#6fbe2e"),
    "write": ("Écriture", "#ff8d2e"),
    "publish": ("Publication", "#a348c0"),
    "remove_replaced": ("Ancien site mis de côté", "#c3c9d0"),
}
RUN_COLOUR, RUN_ALERT_COLOUR = "#8c939e", "#c62828"  # a day's events; under half the usual level

# SPEC 3.2 -------------------------------------------------------------------------------------------
PLATFORM_NAME = "Plateforme"
CSV_STORED_SUFFIX = ".gz"  # csv/<name>.csv is stored as csv/<name>.csv.gz only; servers decompress as needed
# a site's files that are its run's own (times, the runs' history), not its data: two builds of the same lake
# differ only there
RUN_FILES = frozenset({"build.json", RUNS_PAGE, RUNS_DATA, RUNS_CSV + CSV_STORED_SUFFIX})
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_HEAD = ("Établissement", "UAI", "Classe")
CSV_TAIL_BY_KIND = {
    "series": ("Date", "Profil"),
    "apps": ("Profil", "Application"),
    "hours": ("Profil", "Créneau"),
    "weekdays": ("Profil", "Jour"),
}
