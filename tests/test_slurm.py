"""The cluster path on a real SLURM (issue 19): a one-node cluster on this machine
(``tools/slurm_local.sh``: munged, slurmctld, slurmd, no accounting storage) and the workflow run
through ``workflow/profiles/slurm`` as shipped.

- a one-row table: its train job goes through ``sbatch`` (its SLURM log; ``scontrol show job``
  shows the configuration's gpu / mem_mb / runtime / cpus_per_task), gather and table run on the
  submit host, the table equals a local run's, and the plugin prints no status-command warning;
  alongside, a train job that fails for good (its data directory is missing) shows its one-line
  ``xnet: error:`` on the console and leaves no record;
- a running train job cancelled (``scancel``): the workflow resubmits it (``restart-times``); the
  resubmitted job requeued by SLURM (``scontrol requeue``, as on preemption): SLURM runs it again;
  the trainer resumes from its checkpoint each time, and the record equals an uninterrupted run's.

Needs root and Debian's ``slurm-wlm`` and ``munge``; otherwise the module skips, naming what is
missing (``.ci/run`` installs them where apt-get is, and sets XNET_SLURM_REQUIRED=1: there a
missing cluster fails).  About two minutes on 2 cores: the plugin's status checks are 2, 12, 22,
32 ... s apart (+10 s while no job finishes), which is most of the time.
"""

from __future__ import annotations

import csv
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "slurm_local.sh"
PROFILE = REPO / "workflow" / "profiles" / "slurm"
SNAKEMAKE = shutil.which("snakemake")
TARGET = "results/tables/table4.md"
RUN = Path("runs/smoke/cifar10/X-VGG16-2/original/seed0")  # the one run of the tables below
# measured, not computed: wall-clock times, peak memory, versions; the rest of a record is arithmetic
VOLATILE = {"wall_time_s", "time_s", "train_s", "peak_memory_mb", "versions", "device_info"}
COST = {"time_per_epoch_s", "peak_memory_mb", "s / epoch", "peak MB"}  # the tables' measured columns


def _tool(name):
    return shutil.which(name) or (f"/usr/sbin/{name}" if os.access(f"/usr/sbin/{name}", os.X_OK) else None)


def _why_not():
    if SNAKEMAKE is None:
        return "snakemake not installed"
    if os.geteuid() != 0:
        return "needs root to start munged, slurmctld and slurmd"
    tools = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo")
    missing = [t for t in tools if _tool(t) is None]
    if missing:
        return f"SLURM not installed ({', '.join(missing)} missing; Debian: apt-get install -y slurm-wlm munge)"
    conf = Path("/etc/slurm/slurm.conf")
    if conf.exists() and "written by tools/slurm_local.sh" not in conf.read_text().split("\n", 1)[0]:
        return f"{conf} configures a cluster on this machine already: not replacing it"
    return None


WHY_NOT = _why_not()
REQUIRED = os.environ.get("XNET_SLURM_REQUIRED") == "1"  # .ci/run, once it installed the packages
pytestmark = pytest.mark.skipif(WHY_NOT is not None and not REQUIRED, reason=str(WHY_NOT))


def _env(**extra):
    """This environment without SLURM_* (a SLURM_CONF would point elsewhere than the jobs' srun looks)."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}, **extra}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The one-node cluster, with one GPU for the scheduler only (to see --gpus go through); stopped
    afterwards, and checked stopped.  $XNET_SLURM_DIR (set by .ci/run, whose trap stops it too) is
    its state directory where set."""
    assert WHY_NOT is None, f"XNET_SLURM_REQUIRED=1, but {WHY_NOT}"
    state = Path(os.environ.get("XNET_SLURM_DIR") or tmp_path_factory.mktemp("slurm"))
    env = _env(XNET_SLURM_GPUS="1")
    r = subprocess.run(["bash", str(SCRIPT), "start", str(state)], env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, f"tools/slurm_local.sh start failed:\n{r.stdout}\n{r.stderr}"
    assert "idle" in r.stdout and "gres=gpu:1" in r.stdout, r.stdout
    pids = {
        f.name: int(f.read_text())
        for f in (state / "slurmctld.pid", state / "slurmd.pid", state / "munge" / "munged.pid")
    }
    try:
        yield state
    finally:
        r = subprocess.run(
            ["bash", str(SCRIPT), "stop", str(state)], env=env, capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, f"tools/slurm_local.sh stop failed:\n{r.stdout}\n{r.stderr}"
        alive = [f"{name} {pid}" for name, pid in pids.items() if _alive(pid)]
        assert not alive, f"daemons left running: {alive}"
        assert not Path("/etc/slurm/slurm.conf").exists(), "stop left /etc/slurm/slurm.conf"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def _config(tmp_path, cfg):
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _cmd(workdir, cfg, targets, *args):
    return [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *targets,
            "--configfile", str(cfg), *args]  # fmt: skip


# status checks from 2 s on (the plugin adds 10 s per check that sees no job finish; default 40 s)
FAST = ["--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2"]


def _die_with_parent():
    """In the child: SIGTERM when pytest dies (a killed test run leaves no workflow polling on); on
    SIGTERM Snakemake cancels its SLURM jobs."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _popen(cmd, workdir):
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        cmd,
        cwd=workdir,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_die_with_parent,
    )


def slurm_workflow(workdir, cfg, targets=(TARGET,), *args):
    """The workflow through the shipped profile (+ keep the SLURM logs of successful jobs)."""
    cmd = _cmd(workdir, cfg, targets, "--profile", str(PROFILE), "--slurm-keep-successful-logs", *FAST, *args)
    return _popen(cmd, workdir)


def local_workflow(workdir, cfg):
    """The same target, run locally (the reference; started alongside the SLURM run, which mostly waits)."""
    return _popen(_cmd(workdir, cfg, (TARGET,), "--cores", "2"), workdir)


def finish(p, what="the SLURM workflow", timeout=240):
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        pytest.fail(f"{what} ran past {timeout} s:\n{out[-5000:]}")
    return p.returncode, out


def finished_ok(p, what="the local workflow"):
    rc, out = finish(p, what)
    assert rc == 0, f"{what} failed:\n{out[-5000:]}"


def submitted(out):
    """SLURM job ids the workflow submitted, in order, with their SLURM log paths."""
    return re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.", out)


def show_job(jobid):
    r = subprocess.run(["scontrol", "show", "job", jobid], env=_env(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"scontrol show job {jobid}: {r.stderr}"
    return dict(re.findall(r"([\w/:]+)=(\S*)", r.stdout))


def record(workdir):
    def strip(m):
        if isinstance(m, dict):
            return {k: strip(v) for k, v in m.items() if k not in VOLATILE}
        if isinstance(m, list):
            return [strip(v) for v in m]
        return m

    return strip(json.loads((workdir / RUN / "metrics.json").read_text()))


ONE = {
    "scale": {"limit_train_batches": 1, "batch_size": 8},
    "experiments": [{"experiment": "table4", "rows": ["X-VGG-2"], "seeds": [0]}],
}


# a run whose data directory is missing on the cluster: it fails at once, with one line
MISSING_DATA = {"experiment": "table3", "rows": ["X-AlexNet-1"], "seeds": [0]}
FAILING_RUN = Path("runs/smoke/imagenet/X-AlexNet-1/original/seed0")


def test_tables_through_sbatch(cluster, tmp_path):
    """A one-row table through sbatch equals a local run's, its job got the configuration's resources;
    alongside, a run that fails for good shows its one-line error and leaves no record (keep-going:
    the table is made all the same)."""
    res = {"gpu": 1, "mem_mb": 1500, "runtime": 7, "cpus_per_task": 2}
    cfg = {
        "scale": {
            **ONE["scale"],
            "datasets": {"imagenet": "imagenet"},
            "data_dirs": {"imagenet": str(tmp_path / "no")},
        },
        "experiments": [*ONE["experiments"], MISSING_DATA],
        "train": {"model_resources": {"X-VGG16-2": res}},
    }
    cfg = _config(tmp_path, cfg)
    # --restart-times 0: the failing run is submitted once (resubmission: the next test)
    p = slurm_workflow(tmp_path / "slurm", cfg, (TARGET, "results/tables/table3.md"), "--restart-times", "0")
    # the reference, once the SLURM jobs are done (while the workflow waits for its next status check)
    _wait("the SLURM jobs done", lambda: (tmp_path / "slurm" / RUN / "metrics.json").exists() and not _queued(), p)
    ref = local_workflow(tmp_path / "local", cfg)
    rc, out = finish(p)
    assert rc != 0, out[-5000:]  # one run failed
    jobs = dict((log.split("/")[-2], (jobid, log)) for jobid, log in submitted(out))
    assert set(jobs) == {"smoke_cifar10_X-VGG16-2_original_0", "smoke_imagenet_X-AlexNet-1_original_0"}, out[-5000:]
    assert "localrule gather_experiment:" in out and "localrule table:" in out  # on the submit host
    # the train job ran under SLURM: its SLURM log (the job step's Snakemake) and its record
    jobid, log = jobs["smoke_cifar10_X-VGG16-2_original_0"]
    assert Path(log).parent == tmp_path / "slurm/.snakemake/slurm_logs/rule_train/smoke_cifar10_X-VGG16-2_original_0"
    assert f"--out {RUN}" in Path(log).read_text() and (tmp_path / "slurm" / RUN / "metrics.json").exists()
    # the configuration's resources, as sbatch received them (docs/workflow.md, "On a SLURM cluster")
    job = show_job(jobid)
    assert job["JobState"] == "COMPLETED" and job["WorkDir"] == str(tmp_path / "slurm")
    assert job["TimeLimit"] == "00:07:00"  # runtime: minutes -> -t
    assert job["MinMemoryNode"] == "1500M"  # mem_mb -> --mem
    assert job["CPUs/Task"] == "2"  # cpus_per_task -> --cpus-per-task
    assert job["TresPerJob"] == "gres:gpu:1"  # gpu -> --gpus
    assert job["StdOut"] == log
    default = show_job(jobs["smoke_imagenet_X-AlexNet-1_original_0"][0])  # config/config.yaml: imagenet
    assert (default["MinMemoryNode"], default["CPUs/Task"], default["TimeLimit"]) == ("3000M", "1", "01:00:00")
    assert "TresPerJob" not in default  # gpu: 0 asks for no GPU
    # the failing run: reported with its one-line error, no record, no table
    failed = jobs["smoke_imagenet_X-AlexNet-1_original_0"][0]
    assert f"SLURM-job '{failed}' failed, SLURM status is: 'FAILED'" in out
    errors = {line.strip() for line in out.splitlines() if line.strip().startswith("xnet: error:")}
    assert len(errors) == 1 and f"data directory {tmp_path / 'no'} has no train/ folder" in errors.pop(), out
    assert "Traceback" not in out
    assert not (tmp_path / "slurm" / FAILING_RUN / "metrics.json").exists()
    assert not (tmp_path / "slurm/results/tables/table3.md").exists()
    # the profile as shipped on a cluster without accounting: no status-command warning
    for noise in ("MinJobAge", "'sacct' command is not available", "Falling back", "Unable to get the status"):
        assert noise not in out, noise
    # the same table as a local run of the same configuration
    finished_ok(ref)
    for ext, sep in (("csv", ","), ("md", "|"), ("tex", "&")):
        got, want = (tmp_path / d / f"results/tables/table4.{ext}" for d in ("slurm", "local"))
        assert without_cost(got.read_text(), sep) == without_cost(want.read_text(), sep), ext
    assert record(tmp_path / "slurm") == record(tmp_path / "local")


def without_cost(text, sep):
    """A table's text without its measured columns (the header's cells named in COST, and those
    cells of every row as wide as the header)."""
    out, drop, width = [], set(), None
    for line in text.splitlines():
        cells = next(csv.reader([line], delimiter=sep)) if sep == "," else line.split(sep)
        names = [c.replace("\\\\", "").strip() for c in cells]  # a LaTeX row ends in \\
        if not drop and COST & set(names):
            drop, width = {i for i, c in enumerate(names) if c in COST}, len(cells)
        if len(cells) == width:
            cells = [c for i, c in enumerate(cells) if i not in drop]
        out.append(sep.join(cells))
    return out


def _wait(what, cond, p, timeout=120):
    deadline = time.time() + timeout
    while not cond():
        if p.poll() is not None:
            pytest.fail(f"the workflow ended while waiting for {what}:\n{p.stdout.read()[-5000:]}")
        if time.time() > deadline:
            p.kill()
            pytest.fail(f"no {what} after {timeout} s:\n{p.communicate()[0][-5000:]}")
        time.sleep(0.2)


def _queued():
    """The cluster's pending, running and completing jobs."""
    r = subprocess.run(["squeue", "-h", "-o", "%i"], env=_env(), capture_output=True, text=True, timeout=30)
    return r.stdout.split()


def _running_jobs():
    r = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i"], env=_env(), capture_output=True, text=True)
    return r.stdout.split()


def test_cancelled_and_requeued_job_resumes_to_the_same_record(cluster, tmp_path):
    """scancel of a running train job: the workflow resubmits it (restart-times), the trainer resumes;
    scontrol requeue of the resubmitted job (as on preemption): SLURM runs it again, it resumes again;
    the record equals an uninterrupted run's."""
    cfg = _config(tmp_path, {**ONE, "scale": {"epochs": 4, "limit_train_batches": 4, "batch_size": 8}})
    run = tmp_path / "slurm" / RUN
    log = run / "train.log"
    resumed = lambda: log.read_text().count("resuming") if log.exists() else 0  # noqa: E731
    p, ref = slurm_workflow(tmp_path / "slurm", cfg), None
    try:
        # 1. cancelled while it trains (a checkpoint on disk, no record yet): resubmitted
        _wait("a running train job with a checkpoint", lambda: (run / "checkpoint.pt").exists() and _running_jobs(), p)
        (first,) = _running_jobs()
        assert not (run / "metrics.json").exists(), "the run finished before it could be cancelled"
        _slurm("scancel", first)
        _wait("the resubmitted job's trainer resuming", lambda: resumed() >= 1, p)
        # 2. the resubmitted job, requeued by SLURM while it trains: the same job id runs again
        (second,) = _running_jobs()
        assert second != first and not (run / "metrics.json").exists(), "finished before the requeue"
        _slurm("scontrol", "requeue", second)
        ref = local_workflow(tmp_path / "local", cfg)  # while the requeued job waits (cred_expire)
        rc, out = finish(p)
    finally:
        for q in (p, ref):
            if q is not None and q.poll() is None:
                q.kill()
                q.wait()
    assert rc == 0, out[-5000:]
    assert [j for j, _ in submitted(out)] == [first, second], out[-5000:]  # scancel: resubmitted; requeue: not
    assert f"SLURM-job '{first}' failed, SLURM status is: 'CANCELLED'" in out and "Trying to restart job" in out
    job = show_job(second)
    assert job["JobState"] == "COMPLETED" and job["Restarts"] == "1"  # SLURM ran it twice
    text = log.read_text()
    assert text.count("resuming") == 2, text  # after the resubmission and after the requeue
    # the same record as an uninterrupted run of the same configuration
    finished_ok(ref)
    assert record(tmp_path / "slurm") == record(tmp_path / "local")
    assert len(record(tmp_path / "slurm")["history"]) == 4


def _slurm(*cmd):
    r = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"{' '.join(cmd)}: {r.stderr}"
