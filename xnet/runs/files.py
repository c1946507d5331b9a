"""A run directory: its file names, atomic writes, and the lock that keeps a second trainer out.

Torch-free.  Layout of ``DIR``:

- ``checkpoint.pt``: written atomically after every good epoch (never one with non-finite weights);
- ``train.log``: the log, appended to on resume;
- ``metrics.json``: the run record (:class:`xnet.runs.record.RunRecord`), written atomically
  once the run finished, strict JSON;
- ``.lock``: an OS file lock (``fcntl.flock``) held by the trainer while it runs, holding its PID.
  The kernel releases it when the holder dies, so a run killed with SIGKILL resumes at once.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path

from ..errors import RunLocked, UserError

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.json"
LOG = "train.log"
LOCK = ".lock"


def atomic_write_bytes(path: Path, writer) -> None:
    """Write via ``writer(fileobj)`` to ``path.tmp``, fsync, then rename over ``path``.

    If anything fails (a full disk, say) the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def strict_json(obj) -> str:
    """``obj`` as strict JSON (no NaN / Infinity: ``ValueError`` instead), indented, newline-terminated."""
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def atomic_write_json(path: Path, obj) -> None:
    """Write ``obj`` as strict JSON to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    text = strict_json(obj).encode()
    atomic_write_bytes(Path(path), lambda fh: fh.write(text))


def write_error(what: str, path, e: OSError) -> UserError:
    """A one-line error for an ``OSError`` while writing ``path``."""
    why = {
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EACCES: "permission denied",
        errno.EROFS: "read-only file system",
    }.get(e.errno, e.strerror or type(e).__name__)
    return UserError(f"cannot write {what} {path}: {why}")


def check_out_dir(out: Path) -> None:
    """Fail early (before any work) if the run directory cannot be a writable directory."""
    for parent in [out, *out.parents]:
        if parent.exists():
            if not parent.is_dir():
                where = "exists and is not a directory" if parent == out else f"sits under {parent}, which is a file"
                raise UserError(f"--out {out}: {where}")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise UserError(f"--out {out}: {parent} is not writable")
            return


def make_run_dir(out: Path) -> list[Path]:
    """Create ``out`` (and parents); return the directories this call created, innermost first."""
    created = []
    p = out
    while not p.exists():
        created.append(p)
        p = p.parent
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {out}: cannot create it: {e.strerror or e}") from None
    return created


def remove_if_empty(dirs: list[Path]) -> None:
    """Remove the directories of ``dirs`` (innermost first) that are empty (a run that failed early)."""
    for d in dirs:
        with contextlib.suppress(OSError):
            d.rmdir()


class RunLock:
    """An exclusive ``fcntl.flock`` on ``DIR/.lock``; the file holds the holder's PID.

    ``acquire`` fails at once (no waiting) with :class:`RunLocked` naming the holder's PID.  The
    lock file itself stays (removing it would race with a second trainer opening it).
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise write_error("the lock file", self.path, e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                holder = os.pread(fd, 64, 0).decode().strip()
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                who = f"process {holder}" if holder.isdigit() else "another process"
                raise RunLocked(
                    f"{self.path.parent} is in use by {who} (another xnet train on the same run "
                    f"directory); wait for it to finish or stop it"
                ) from None
            raise UserError(f"cannot lock {self.path}: {e.strerror or e}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            import fcntl

            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
