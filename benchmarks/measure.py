"""Run one benchmark step in its own process: wall time, CPU time and peak resident memory are its own.

The step runs as `python -m benchmarks.runner TASK ARGS.json RESULT.json` in a session of its own; the
parent waits for it with `os.wait4`, whose resource usage is that child's and its waited-for workers' alone
(CPU time: their sum; ru_maxrss: the largest single process). As the pipeline may fork workers, the parent
also polls the memory of the step's whole process group, as the sum of their proportional set sizes (PSS:
pages shared after a fork counted once), and stops the step past `memory_limit_mib` or after `timeout_s`,
recording that instead of failing: an honest harness reports what did not finish.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

POLL_S = 0.2
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class StepResult:
    name: str
    status: str  # "ok", "timeout after N s", "killed: memory > N MiB", "failed: …"
    seconds: float  # wall time of the whole child process
    peak_rss_mib: float  # max(largest single process's RSS, polled PSS sum of the process group)
    cpu_seconds: float  # user + system
    result: dict = field(default_factory=dict)  # what the task returned (its own timings, counts)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def cores_used(self) -> float:
        return self.cpu_seconds / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "cores_used": round(self.cores_used, 2)}


def rss_mib(pid: int, field_name: str = "VmRSS:", file: str = "status") -> float:
    """Current resident memory of a process (MiB), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/{file}", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field_name):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
        pass
    return 0.0


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    pids.append(int(entry))
            except (ProcessLookupError, PermissionError):
                continue
    return pids


def group_memory_mib(pgid: int) -> float:
    """The memory of a process group: the sum of its processes' PSS (RSS where PSS is not readable)."""
    total = 0.0
    for pid in group_pids(pgid):
        pss = rss_mib(pid, "Pss:", "smaps_rollup")
        total += pss if pss else rss_mib(pid)
    return total


def run_step(
    name: str, task: str, args: dict, work: Path, timeout_s: float, memory_limit_mib: float
) -> StepResult:
    """Run `task` with `args` in a child process and measure it."""
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stem = name.replace("/", "-")
    args_path, result_path = logs / f"{stem}.args.json", logs / f"{stem}.result.json"
    args_path.write_text(json.dumps(args, default=str), encoding="utf-8")
    result_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "benchmarks.runner", task, str(args_path), str(result_path)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    # every step starts on a quiet disk: what earlier steps left to write back (DuckDB's tables, a removed
    # site) is flushed before the clock starts, not during the next step's time
    os.sync()
    started = time.perf_counter()
    with open(logs / f"{stem}.log", "wb") as log:
        child = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env, start_new_session=True
        )
        status, usage, polled_peak = _wait(child, timeout_s, memory_limit_mib, started)
    seconds = time.perf_counter() - started
    peak = max(usage.ru_maxrss / 1024, polled_peak)
    cpu = usage.ru_utime + usage.ru_stime
    if status == "ok":
        if result_path.exists():
            return StepResult(name, status, seconds, peak, cpu, json.loads(result_path.read_text("utf-8")))
        status = f"failed: no result (see {logs / (stem + '.log')})"
    return StepResult(name, status, seconds, peak, cpu)


def _wait(child: subprocess.Popen, timeout_s: float, limit_mib: float, started: float):
    """Poll the child until it ends; stop it (its whole session) past the time or memory limit."""
    peak, verdict = 0.0, None
    while True:
        pid, code, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = code
            return _status(code, verdict), usage, peak
        rss = group_memory_mib(child.pid)
        peak = max(peak, rss)
        if verdict is None and rss > limit_mib:
            verdict = f"killed: memory > {limit_mib:.0f} MiB"
        elif verdict is None and time.perf_counter() - started > timeout_s:
            verdict = f"timeout after {timeout_s:.0f} s"
        if verdict is not None:
            _kill(child)
        time.sleep(POLL_S)


def _kill(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _status(code: int, verdict: str | None) -> str:
    if verdict is not None:
        return verdict
    if os.WIFSIGNALED(code):
        number = os.WTERMSIG(code)
        return "killed: memory (SIGKILL, OOM?)" if number == signal.SIGKILL else f"failed: signal {number}"
    exit_code = os.WEXITSTATUS(code)
    return "ok" if exit_code == 0 else f"failed: exit code {exit_code}"


def file_creation_us(folder: Path, count: int = 2000) -> float:
    """Microseconds to create one empty file in `folder`, now (the files stay: the caller removes the folder).

    A figure of the disk's state printed beside the results: on this machine's journal-less ext4 it is
    10–20 µs on a quiet disk and up to 600 µs in the minutes after a mass deletion (see harness.DISCARDED),
    when a site's 177,000 files cost seconds more to write. The files go into 100 folders, as a site's do:
    ext4 spreads new folders over its inode groups, and a deletion leaves some groups slow and not others."""
    started = time.perf_counter()
    for k in range(count):
        if k % (count // 100 or 1) == 0:
            subfolder = folder / f"{k}"
            subfolder.mkdir(parents=True)
        os.close(os.open(subfolder / f"{k}", os.O_WRONLY | os.O_CREAT, 0o666))
    return round((time.perf_counter() - started) / count * 1e6, 1)
