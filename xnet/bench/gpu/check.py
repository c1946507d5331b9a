"""One run of the GPU check (:class:`Check`): its output and scratch folders, log, tables, time
boxes, CUDA state and watchdog; and the subprocess workers of the ``kernels`` and ``train`` parts."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import torch

from . import spec
from .spec import FLAT_TABLES, MAX_FILE_BYTES, MAX_TAR_BYTES, OUT_FILES, PARTS, REPO, CudaBroken, one_line
from .summary import write_summary


class Check:
    """Output folder (flat, small files), scratch folder, log, tables, time boxes, CUDA state and
    the watchdog of one run of the check."""

    def __init__(self, out: Path, scratch: Path, device, tiny, budget, env):
        self.out, self.scratch, self.device, self.tiny, self.env = out, scratch, device, tiny, env
        self.budget = budget
        self.start = time.time()
        self.end = self.start + budget
        self.status, self.tables, self.notes = {}, {}, []
        self.cuda_error = None
        self.current = None
        self.finished = False
        self.lock = threading.RLock()

    # -- output -------------------------------------------------------------------------------
    def log(self, msg):
        print(msg, flush=True)
        with open(self.scratch / "log.txt", "a") as f:
            f.write(msg + "\n")

    def add(self, table, row):
        """Append ``row`` to ``table``; rewrite its CSV (flat in DIR if it is one of FLAT_TABLES,
        and in the scratch folder): a killed run keeps its rows."""
        with self.lock:
            self.tables.setdefault(table, []).append(row)
            self._write_csv(self.scratch / f"{table}.csv", self.tables[table])
            if table in FLAT_TABLES:
                name = FLAT_TABLES[table]
                names = [t for t, f in FLAT_TABLES.items() if f == name]
                rows = [{"table": t, **r} if len(names) > 1 else r for t in names for r in self.tables.get(t, [])]
                self._write_csv(self.out / name, rows)

    @staticmethod
    def _write_csv(path, rows):
        cols = list(dict.fromkeys(k for r in rows for k in r))
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, cols)
            w.writeheader()
            w.writerows(rows)

    def write_status(self):
        state = dict(
            env=self.env,
            parts=self.status,
            cuda_error=self.cuda_error,
            notes=self.notes,
            elapsed_s=round(time.time() - self.start, 1),
            scratch=str(self.scratch),
        )
        (self.out / "status.json").write_text(json.dumps(state, indent=2, default=str) + "\n")

    # -- CUDA state ---------------------------------------------------------------------------
    def probe(self):
        """Raise CudaBroken if the device no longer synchronises (a sticky CUDA error)."""
        if self.device.type != "cuda" or self.cuda_error:
            if self.cuda_error:
                raise CudaBroken(self.cuda_error)
            return
        try:
            torch.cuda.synchronize(self.device)
            torch.ones(1, device=self.device).add_(1).item()
        except Exception as e:  # noqa: BLE001 - any failure here means the context is gone
            self.cuda_error = one_line(e)
            raise CudaBroken(self.cuda_error) from None

    # -- parts --------------------------------------------------------------------------------
    def run_parts(self, parts):
        for i, (name, fn) in enumerate(parts):
            left = self.end - time.time()
            share = PARTS[name][0] / sum(PARTS[n][0] for n, _ in parts[i:])
            box = max(0.0, left * share)
            deadline = time.time() + box
            t0 = time.time()
            self.current = name
            self.log(f"== part {i + 1}/{len(parts)}: {name} ({box:.0f} s box)")
            if self.cuda_error and not PARTS[name][1]:
                status = f"skipped: the CUDA context broke earlier ({self.cuda_error})"
            elif box < 1:
                status = "skipped: no time left (time box)"
            else:
                try:
                    note = fn(self, deadline) or ""
                    status = "ok" if not note else note
                except CudaBroken as e:
                    status = f"failed: CUDA error, the in-process parts end here: {e}"
                except Exception as e:  # noqa: BLE001 - recorded; the next part goes on
                    status = f"failed: {one_line(e)}"
                if not PARTS[name][1] and not self.cuda_error:
                    try:
                        self.probe()
                    except CudaBroken:
                        status += f" (then the CUDA context broke: {self.cuda_error})"
                if self.device.type == "cuda" and not self.cuda_error:
                    torch.cuda.empty_cache()
            with self.lock:
                self.status[name] = dict(status=status[:600], seconds=round(time.time() - t0, 1), box_s=round(box))
                self.current = None
                self.write_status()
                write_summary(self)
            self.log(f"== {name}: {status} ({time.time() - t0:.0f} s)")

    # -- end ----------------------------------------------------------------------------------
    def finish(self, why=None):
        """Tar the scratch folder (no ``*.pt``, no Triton cache) into DIR if small enough, check
        the flat folder, rewrite status and summary, print the summary.  Runs once."""
        with self.lock:
            if self.finished:
                return
            self.finished = True
            if why:
                self.notes.append(why)
            self._tar()
            for p in sorted(self.out.iterdir()):
                if p.is_dir() or p.name not in OUT_FILES:
                    self.notes.append(f"unexpected {p.name} in DIR (a bug of the check)")
                elif p.stat().st_size > MAX_FILE_BYTES and p.suffix != ".gz":
                    size = p.stat().st_size
                    p.replace(self.scratch / p.name)
                    self.notes.append(f"{p.name}: {size} bytes, over {MAX_FILE_BYTES}: moved to {self.scratch}")
            self.write_status()
            write_summary(self)
            print("\n" + (self.out / "summary.md").read_text(), flush=True)
            for name, st in self.status.items():  # the end of the output, where a cut tail keeps it
                print(f"part {name}: {st['status']} ({st['seconds']} s)", flush=True)

    def _tar(self):
        tar = self.out / "scratch.tar.gz"
        tmp = self.scratch.parent / f".{self.scratch.name}.tar.gz"
        left_out = []

        def keep(info):
            parts = Path(info.name).parts
            if info.name.endswith(".pt") or "triton-cache" in parts:
                if info.isfile():
                    left_out.append(info.name)
                return None
            return info

        try:
            with tarfile.open(tmp, "w:gz") as t:
                t.add(self.scratch, arcname="scratch", filter=keep)
            size = tmp.stat().st_size
            if size > MAX_TAR_BYTES:
                self.notes.append(
                    f"scratch.tar.gz: {size} bytes, over {MAX_TAR_BYTES}: not written (see {self.scratch})"
                )
                tmp.unlink()
            else:
                tmp.replace(tar)
                self.notes.append(
                    f"scratch.tar.gz: {size} bytes of {self.scratch}"
                    + (f" ({len(left_out)} *.pt / Triton-cache files left out)" if left_out else "")
                )
        except Exception as e:  # noqa: BLE001 - the flat files stand without it
            self.notes.append(f"scratch.tar.gz not written: {one_line(e)}")

    def watchdog(self):
        """At the budget + grace, a part still running (a hung kernel, say) ends the check: the
        files are written and the process exits with status 3."""

        def fire():
            with self.lock:
                part = self.current
                if part:
                    self.status[part] = dict(
                        status=f"failed: still running {spec.WATCHDOG_GRACE_S:.0f} s past the budget (watchdog)",
                        seconds=round(time.time() - self.start, 1),
                    )
                self.log(f"== watchdog: {part or 'the check'} still running past the budget; writing the files")
                self.finish(why=f"watchdog: the check was ended during part {part}")
            os._exit(3)

        t = threading.Timer(self.budget + spec.WATCHDOG_GRACE_S, fire)
        t.daemon = True
        t.start()
        return t


def _subprocess_env(ck):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env["TRITON_CACHE_DIR"] = str(ck.scratch / "triton-cache")  # fresh: compile seconds are real
    if ck.device.type == "cpu":
        env["TRITON_INTERPRET"] = "1"
        env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_worker(ck, name, module, args, deadline):
    """``python -m module args`` with its output in the scratch folder, ended at the deadline;
    returns ``(return code or None if timed out, last stderr line)``."""
    log_path = ck.scratch / f"{name}.log"
    timeout = max(1.0, deadline - time.time())
    cmd = [sys.executable, "-m", module, *args]
    ck.log(f"  {' '.join(cmd[1:])}")
    with open(log_path, "w") as logf:
        try:
            proc = subprocess.run(
                cmd, stdout=logf, stderr=subprocess.STDOUT, env=_subprocess_env(ck), cwd=REPO, timeout=timeout
            )
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = None
    lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    err = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else "no output")
    return rc, err[:300]


def _jsonl(path):
    if not path.exists():
        return []
    rows = []
    for ln in path.read_text().splitlines():
        try:
            rows.append(json.loads(ln))
        except json.JSONDecodeError:  # a line cut by the time box
            pass
    return rows
