"""The DuckDB side of the benchmark: the same work as the pipeline, done by a good SQL engine.

- `ingest`: `read_json` of the same mongoexport files → the lake's columns, checked as SPEC 1.1 asks (the
  four date forms, `{"$oid"}` ids, required fields per type, known profiles, id alphabet), deduplicated on
  `_id`, written as Parquet partitioned by UTC day. It does not keep the rejected lines with their line
  numbers, as the pipeline does (SPEC 3.4): a little less work than the pipeline's.
- `build`: ONE SQL script from the lake's event Parquet files to every indicator table of SPEC 2 — for the
  platform, every structure and every class of the snapshot, every profile and Tous (a user counted once),
  connections and activations by day/week/month over the 12-month period, exact distinct visitors by
  day/week (cut by the period's edges)/month and over both periods, visits per visitor in rounded
  hundredths, logins by hour and weekday and accesses per app for both periods — in local time. Tables are
  written as Parquet so that the work really happens; they are sparse (a missing row is a zero), the form
  a SQL engine gives; the pipeline's arrays are dense.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import duckdb

from pipeline.periods import period_spans, window_days

ID_PATTERN = "^[A-Za-z0-9_-]+$"
PROFILES = ("Teacher", "Student", "Relative", "Personnel", "Guest")
TABLES = ("series", "visitors", "hourly", "weekday", "top_apps")

INGEST_SQL = """
COPY (
  WITH raw AS (
    SELECT * FROM read_json({files}, format = 'newline_delimited', ignore_errors = true,
      columns = {{'_id': 'JSON', 'event-type': 'VARCHAR', 'module': 'VARCHAR', 'date': 'JSON',
                 'userId': 'VARCHAR', 'profil': 'VARCHAR', 'structures': 'VARCHAR[]',
                 'classes': 'VARCHAR[]'}})
  ), parsed AS (
    SELECT
      CASE json_type(_id) WHEN 'VARCHAR' THEN _id ->> '$' ELSE _id ->> '$."$oid"' END AS event_id,
      "event-type" AS event_type,
      nullif(module, '') AS module,
      CASE WHEN json_type("date") IN ('UBIGINT', 'BIGINT') THEN TRY_CAST("date" AS BIGINT)
           ELSE coalesce(TRY_CAST("date" ->> '$."$numberLong"' AS BIGINT),
                         TRY_CAST("date" ->> '$."$date"."$numberLong"' AS BIGINT),
                         epoch_ms(TRY_CAST("date" ->> '$."$date"' AS TIMESTAMPTZ))) END AS ts_ms,
      nullif(userId, '') AS user_id,
      profil AS profile,
      list_distinct(coalesce(structures, [])) AS structures,
      list_distinct(coalesce(classes, [])) AS classes
    FROM raw
  )
  SELECT DISTINCT ON (event_id) *, CAST(epoch_ms(ts_ms) AS DATE) AS day
  FROM parsed
  WHERE event_id IS NOT NULL AND event_id <> '' AND event_type IS NOT NULL AND event_type <> ''
    AND ts_ms BETWEEN 946684800000 AND {max_ms}
    AND (event_type NOT IN ('LOGIN', 'ACCESS', 'ACTIVATION')
         OR (user_id IS NOT NULL AND profile IN {profiles}
             AND (event_type <> 'ACCESS' OR module IS NOT NULL)))
    AND len(list_filter(structures, lambda x: NOT regexp_full_match(x, '{pattern}'))) = 0
    AND len(list_filter(classes, lambda x: NOT regexp_full_match(x, '{pattern}'))) = 0
) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day), OVERWRITE_OR_IGNORE true);
SELECT count(*) FROM read_parquet('{out}/*/*.parquet');
"""

BUILD_SQL = """
CREATE TEMP TABLE snapshot_classes AS
  SELECT id FROM read_csv('{directory}/classes.csv', header = true, all_varchar = true);

-- events of the 12-month window, in local time
CREATE TEMP TABLE ev AS
  SELECT event_type, module, user_id, profile, structures, classes,
         CAST(lt AS DATE) AS day, hour(lt) AS hour
  FROM (SELECT *, (epoch_ms(ts_ms) AT TIME ZONE 'UTC') AT TIME ZONE '{timezone}' AS lt
        FROM read_parquet('{lake}/events/*/part-*.parquet'))
  WHERE event_type IN ('LOGIN', 'ACCESS', 'ACTIVATION') AND CAST(lt AS DATE) BETWEEN '{first}' AND '{last}';

-- one row per (event, entity it counts for)
CREATE TEMP VIEW rows AS
  SELECT 'platform' AS entity, event_type, module, user_id, profile, day, hour FROM ev
  UNION ALL
  SELECT 'structure:' || s, event_type, module, user_id, profile, day, hour
    FROM (SELECT *, unnest(list_distinct(structures)) AS s FROM ev)
  UNION ALL
  SELECT 'class:' || c, event_type, module, user_id, profile, day, hour
    FROM (SELECT *, unnest(list_distinct(classes)) AS c FROM ev)
    WHERE c IN (SELECT id FROM snapshot_classes);

-- daily counts per entity and profile, Tous as the sum of the profiles
CREATE TEMP TABLE daily AS
  SELECT entity, profile, event_type,
         CASE event_type WHEN 'LOGIN' THEN lpad(CAST(hour AS VARCHAR), 2, '0')
                         WHEN 'ACCESS' THEN module ELSE '' END AS key,
         day, count(*) AS n
  FROM rows GROUP BY ALL;
INSERT INTO daily SELECT entity, 'all', event_type, key, day, sum(n) FROM daily GROUP BY ALL;

-- presence: the distinct users of a day, per entity and profile, and for Tous (a user once)
CREATE TEMP TABLE presence AS
  SELECT DISTINCT entity, profile, user_id, day FROM rows WHERE event_type = 'LOGIN';
INSERT INTO presence SELECT DISTINCT entity, 'all', user_id, day FROM presence;

CREATE TEMP TABLE buckets AS
  SELECT day, 'day' AS grouping, day AS bucket FROM daily GROUP BY day
  UNION ALL SELECT day, 'week', CAST(date_trunc('week', day) AS DATE) FROM daily GROUP BY day
  UNION ALL SELECT day, 'month', CAST(date_trunc('month', day) AS DATE) FROM daily GROUP BY day;

CREATE TEMP TABLE counts AS
  SELECT CASE d.event_type WHEN 'LOGIN' THEN 'connections' ELSE 'activations' END AS indicator,
         d.entity, d.profile, b.grouping, b.bucket, sum(d.n) AS value
  FROM daily d JOIN buckets b USING (day)
  WHERE d.event_type IN ('LOGIN', 'ACTIVATION') GROUP BY ALL;

CREATE TEMP TABLE uniques AS
  SELECT 'unique_visitors' AS indicator, entity, profile, 'day' AS grouping, day AS bucket,
         count(*) AS value FROM presence GROUP BY ALL
  UNION ALL
  SELECT 'unique_visitors', entity, profile, 'week', CAST(date_trunc('week', day) AS DATE),
         count(DISTINCT user_id) FROM presence GROUP BY ALL
  UNION ALL
  SELECT 'unique_visitors', entity, profile, 'month', CAST(date_trunc('month', day) AS DATE),
         count(DISTINCT user_id) FROM presence GROUP BY ALL;

COPY (
  SELECT * FROM counts UNION ALL SELECT * FROM uniques
  UNION ALL
  SELECT 'visits_per_visitor', c.entity, c.profile, c.grouping, c.bucket,
         (200 * c.value + u.value) // (2 * u.value)
  FROM counts c JOIN uniques u USING (entity, profile, grouping, bucket)
  WHERE c.indicator = 'connections'
) TO '{out}/series.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
  SELECT 'visitors' AS indicator, entity, profile, '12months' AS period, count(DISTINCT user_id) AS value
  FROM presence GROUP BY ALL
  UNION ALL
  SELECT 'visitors', entity, profile, 'month', count(DISTINCT user_id)
  FROM presence WHERE day >= '{month_first}' GROUP BY ALL
) TO '{out}/visitors.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
  SELECT 'hourly' AS indicator, entity, profile, '12months' AS period, key, sum(n) AS value
  FROM daily WHERE event_type = 'LOGIN' GROUP BY ALL
  UNION ALL
  SELECT 'hourly', entity, profile, 'month', key, sum(n)
  FROM daily WHERE event_type = 'LOGIN' AND day >= '{month_first}' GROUP BY ALL
) TO '{out}/hourly.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
  SELECT 'weekday' AS indicator, entity, profile, '12months' AS period,
         CAST(isodow(day) - 1 AS VARCHAR) AS key, sum(n) AS value
  FROM daily WHERE event_type = 'LOGIN' GROUP BY ALL
  UNION ALL
  SELECT 'weekday', entity, profile, 'month', CAST(isodow(day) - 1 AS VARCHAR), sum(n)
  FROM daily WHERE event_type = 'LOGIN' AND day >= '{month_first}' GROUP BY ALL
) TO '{out}/weekday.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (
  SELECT *, row_number() OVER (PARTITION BY entity, profile, period ORDER BY value DESC, key) AS rank
  FROM (
    SELECT 'top_apps' AS indicator, entity, profile, '12months' AS period, key, sum(n) AS value
    FROM daily WHERE event_type = 'ACCESS' GROUP BY ALL
    UNION ALL
    SELECT 'top_apps', entity, profile, 'month', key, sum(n)
    FROM daily WHERE event_type = 'ACCESS' AND day >= '{month_first}' GROUP BY ALL)
) TO '{out}/top_apps.parquet' (FORMAT parquet, COMPRESSION zstd);
"""


def connect(args: dict) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET threads = {int(args.get('threads', 2))}")
    con.execute(f"SET memory_limit = '{args.get('memory_limit', '6GB')}'")
    con.execute("SET preserve_insertion_order = false")
    if args.get("temp_directory"):
        con.execute(f"SET temp_directory = '{args['temp_directory']}'")
    return con


def ingest_script(files: list[str], out: Path, max_ms: int) -> str:
    quoted = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    return INGEST_SQL.format(files=quoted, out=out, max_ms=max_ms, profiles=str(PROFILES), pattern=ID_PATTERN)


def build_script(lake: Path, directory: Path, out: Path, timezone: str, as_of: date) -> str:
    days = window_days(as_of)
    month_first = period_spans(as_of)["month"].first
    return BUILD_SQL.format(
        lake=lake,
        directory=directory,
        out=out,
        timezone=timezone,
        first=days[0],
        last=days[-1],
        month_first=month_first,
    )


def ingest(args: dict) -> dict:
    """mongoexport files → checked, deduplicated events as Parquet partitioned by UTC day."""
    out = Path(args["out"])
    out.mkdir(parents=True, exist_ok=True)
    con = connect(args)
    clock = time.perf_counter()
    events = con.execute(ingest_script(args["files"], out, args["now_ms"] + 86_400_000)).fetchone()[0]
    return {
        "seconds": time.perf_counter() - clock,
        "events": events,
        "input_bytes": sum(Path(f).stat().st_size for f in args["files"]),
    }


def build(args: dict) -> dict:
    """The lake's events → every indicator table, with one SQL script."""
    out = Path(args["out"])
    out.mkdir(parents=True, exist_ok=True)
    con = connect(args)
    script = build_script(
        Path(args["lake"]), Path(args["directory"]), out, args["timezone"], date.fromisoformat(args["as_of"])
    )
    clock = time.perf_counter()
    con.execute(script)
    seconds = time.perf_counter() - clock
    rows = {t: con.execute(f"SELECT count(*) FROM '{out}/{t}.parquet'").fetchone()[0] for t in TABLES}
    return {"seconds": seconds, "rows": rows}


def records(tables: Path, entities: list[str]) -> dict[str, float]:
    """DuckDB's figures of `entities` as the flat records of steps.figure_records (non-zero values)."""
    con = duckdb.connect()
    wanted = "[" + ", ".join(f"'{e}'" for e in entities) + "]"
    out: dict[str, float] = {}
    for table in TABLES:
        key = (
            "strftime(bucket, '%Y-%m-%d')" if table == "series" else ("''" if table == "visitors" else "key")
        )
        grouping = "grouping" if table == "series" else "period"
        query = (
            f"SELECT indicator, entity, profile, {grouping}, {key}, value FROM '{tables}/{table}.parquet' "
            f"WHERE list_contains({wanted}, entity) AND value <> 0"
        )
        for indicator, entity, profile, group, k, value in con.execute(query).fetchall():
            out[f"{indicator}|{entity}|{profile}|{group}|{k}"] = value
    return out
