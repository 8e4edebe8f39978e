"""The cluster tests' real dask.distributed cluster (benchmarks.local_cluster), skipped with its install
command where dask.distributed is absent (CI installs it: a skip there is a failure)."""

from __future__ import annotations

import pytest

from benchmarks.local_cluster import LocalCluster, local_cluster

__all__ = ["LocalCluster", "local_cluster", "require_distributed"]


def require_distributed() -> None:
    pytest.importorskip(
        "distributed", reason="dask.distributed is absent: pip install -e '.[cluster]' (.ci/run does)"
    )
