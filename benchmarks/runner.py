"""Child-process entry of one measured step: `python -m benchmarks.runner TASK ARGS.json RESULT.json`."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

# each task's module and function: a step imports its own side only (DuckDB's steps carried the pipeline's
# imports, 0.8 s and 70 MB of their peak; the pipeline's steps DuckDB's, 0.2 s and 14 MB)
TASKS = {
    "synth": ("steps", "synth"),
    "ingest": ("steps", "ingest"),
    "aggregate": ("steps", "aggregate"),
    "indicators": ("steps", "indicators_task"),
    "render": ("steps", "render"),
    "nightly": ("steps", "nightly"),
    "side_by_side": ("steps", "side_by_side"),
    "backfill": ("steps", "backfill"),
    "duckdb_ingest": ("duckdb_reference", "ingest"),
    "duckdb_build": ("duckdb_reference", "build"),
}


def task(name: str) -> Callable[[dict], dict]:
    module, function = TASKS[name]
    return getattr(importlib.import_module(f"{__package__}.{module}"), function)


def main(argv: list[str]) -> int:
    name, args_path, result_path = argv
    args = json.loads(Path(args_path).read_text("utf-8"))
    result = task(name)(args)
    Path(result_path).write_text(json.dumps(result, default=str, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
