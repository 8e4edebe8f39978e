"""Child-process entry of one measured step: `python -m benchmarks.runner TASK ARGS.json RESULT.json`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path


def tasks() -> dict[str, Callable[[dict], dict]]:
    from . import duckdb_reference, steps

    return {
        "synth": steps.synth,
        "ingest": steps.ingest,
        "aggregate": steps.aggregate,
        "indicators": steps.indicators_task,
        "render": steps.render,
        "nightly": steps.nightly,
        "side_by_side": steps.side_by_side,
        "backfill": steps.backfill,
        "duckdb_ingest": duckdb_reference.ingest,
        "duckdb_build": duckdb_reference.build,
    }


def main(argv: list[str]) -> int:
    task, args_path, result_path = argv
    args = json.loads(Path(args_path).read_text("utf-8"))
    result = tasks()[task](args)
    Path(result_path).write_text(json.dumps(result, default=str, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
