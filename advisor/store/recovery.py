"""Finding runs whose process died (killed, crashed, machine rebooted).

A run records the host name, process id and, where the system tells it, a process
token (the boot id and the process start time) of the process running it. On start,
the app asks for runs still "queued" or "running" on this host whose process is gone,
and marks them failed with :data:`ORPHANED_RUN_ERROR`. Nothing else is touched.

Runs of other hosts (team mode) cannot be checked by process id; they are failed only
when ``stale_after`` is given and they have not reported for that long.
"""

from __future__ import annotations

import os
import socket
import sys
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from advisor.store.models import ACTIVE_STATUSES, Run, RunStatus, utc_now
from advisor.store.transactions import end_read_transaction, retrying_write

#: Why a run whose process stopped is marked failed (the start of its ``error``).
ORPHANED_RUN_ERROR = "the process running it stopped (killed or crashed)"


def current_hostname() -> str:
    """Return the name of this host as runs record it."""
    return socket.gethostname()


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """Return (state, start time in clock ticks) of a Linux process, or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after it.
    fields = text[text.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return None
    return fields[0], fields[19]


def process_token(pid: int | None = None) -> str | None:
    """Return a token that tells this process from a later one reusing its id.

    Args:
        pid: Process id; defaults to the current process.

    Returns:
        "boot id:start time" on Linux, None where the system does not tell.

    """
    pid = os.getpid() if pid is None else pid
    boot = _boot_id()
    stat = _proc_stat(pid) if sys.platform.startswith("linux") else None
    if boot is None or stat is None:
        return None
    return f"{boot}:{stat[1]}"


def pid_alive(pid: int, token: str | None = None) -> bool:
    """Whether the process ``pid`` of this host is still running.

    A zombie (exited, not yet reaped) counts as dead. When ``token`` is given and the
    system can tell, a process with the same id but another token (id reused, or the
    machine rebooted) counts as dead too.

    Args:
        pid: Process id on this host.
        token: The :func:`process_token` recorded when the run started.

    Returns:
        True if the process runs.

    """
    if pid <= 0:
        return False
    if sys.platform.startswith("linux") and Path("/proc/self/stat").exists():
        if token is not None:
            boot = token.split(":", 1)[0]
            if _boot_id() not in (None, boot):
                return False
        stat = _proc_stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            return False
        return token is None or token == process_token(pid)
    if os.name == "nt":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _windows_pid_alive(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


@retrying_write
def recover_orphaned_runs(
    session: Session,
    *,
    hostname: str | None = None,
    stale_after: float | None = None,
) -> list[int]:
    """Mark as failed the active runs whose process is gone; return their ids.

    A run "queued" or "running" on this host whose process no longer exists is marked
    failed with :data:`ORPHANED_RUN_ERROR`. With ``stale_after``, a run of another host
    that has not reported (heartbeat, start or creation) for that many seconds is
    marked failed too. Other rows are not touched.

    Args:
        session: Open session; committed when a run was marked.
        hostname: This host's name; defaults to :func:`current_hostname`.
        stale_after: Seconds of silence after which another host's run is failed;
            None leaves other hosts' runs alone.

    Returns:
        Ids of the runs marked failed.

    Raises:
        ValueError: ``stale_after`` is not positive.

    """
    if stale_after is not None and stale_after <= 0:
        raise ValueError(f"stale_after must be positive, got {stale_after}.")
    host = hostname or current_hostname()
    now = utc_now()
    runs = session.exec(
        select(Run).where(col(Run.status).in_(ACTIVE_STATUSES)).order_by(col(Run.id))
    ).all()
    failed: list[int] = []
    for run in runs:
        reason = _orphan_reason(run, host, now, stale_after)
        if reason is None:
            continue
        run.status = RunStatus.FAILED.value
        run.error = reason
        run.finished_at = now
        session.add(run)
        failed.append(int(run.id or 0))
    if failed:
        session.commit()
    else:
        end_read_transaction(session)
    return failed


def _orphan_reason(run: Run, host: str, now: datetime, stale_after: float | None) -> str | None:
    if run.hostname == host and run.pid is not None:
        if pid_alive(run.pid, run.process_token):
            return None
        return f"{ORPHANED_RUN_ERROR}: process {run.pid} on {host} is gone."
    if stale_after is None:
        return None
    last = run.heartbeat_at or run.started_at or run.created_at
    if last is None or now - last < timedelta(seconds=stale_after):
        return None
    silent = int((now - last).total_seconds())
    return (
        f"{ORPHANED_RUN_ERROR}: no sign of life from {run.hostname or 'an unknown host'} "
        f"for {silent} s."
    )
