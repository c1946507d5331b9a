"""Issue 16 ("Nothing mixes, nothing is lost"), a run's identity: what it is and where it lives is
set in one place only, a record is the run its directory names, precision, device and data
directory are part of what a run directory holds, and a config edit never destroys a finished run.

1. ``train.options`` sets only harmless options (progress, workers, download); a ``--model-arg``
   never contradicts a published model name.
2. gather checks every record against its path (and the scale) and against its own history.
3. ``amp``, ``device``, ``data_dir``, the data files' fingerprint and the resolved network
   (``family``, ``model_kwargs``) are part of the identity; identities written before them still
   resume and are still recognised as finished.
4. the workflow profile keeps a finished run's metrics.json through a config edit.

Tiny runs on synthetic data (``tests/conftest.py``); the workflow cases run Snakemake in tmp dirs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest
import torch
import yaml

from xnet import cli
from xnet.errors import RecordError, UserError
from xnet.training.config import TrainConfig

from conftest import load_wfconfig, one_line_error, tiny_train_config, write_fake_cifar

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = shutil.which("snakemake")
PROFILE = REPO / "workflow" / "profiles" / "default"
TINY = [{"experiment": "table4", "rows": ["X-VGG-2"], "seeds": [0]}]  # one run: X-VGG16-2 seed 0

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


wfconfig = load_wfconfig()


def config(overrides):
    """The smoke config + overrides, merged and schema-checked as common.smk does."""
    from snakemake.utils import update_config, validate

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    update_config(cfg, {"experiments": TINY, **overrides})
    validate(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return cfg


def refused(overrides) -> str:
    with pytest.raises(wfconfig.ConfigError) as e:
        wfconfig.check(config(overrides))
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def _snapshot(d: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


# ------------------------------------------------------------------ 1. train.options, --model-arg
@pytest.mark.parametrize(
    "key, value, belongs",
    [
        ("model", "X-VGG16-1", "experiments"),
        ("model_arg", {"depth": 10}, "published model name fixes its network"),
        ("model_args", {"depth": 10}, "published model name"),
        ("dataset", "synthetic-cifar100", "scale.datasets"),
        ("seed", 3, "experiments (seeds)"),
        ("out", "/etc", "runs_dir"),
        ("variant", "paper", "belongs in variant"),
        ("data_dir", "/tmp/cifar", "scale.data_dirs"),
        ("epochs", 5, "scale.epochs"),
        ("batch-size", 8, "scale.batch_size"),
        ("limit_train_batches", 1, "scale.limit_train_batches"),
        ("limit_val_batches", 1, "scale.limit_val_batches"),
        ("device", "cpu", "scale.device"),
        ("set", ["lr=0.05"], "scale.set"),
        ("amp", True, "scale.device (the precision follows the device"),
        ("train_size", 10, "a scale of its own"),
        ("val_size", 10, "a scale of its own"),
    ],
)
def test_train_options_refuse_what_a_run_is_or_where_it_lives(key, value, belongs):
    msg = refused({"train": {"options": {key: value}}})
    assert msg.startswith(f"train.options.{key}: part of a run's identity or location"), msg
    assert belongs in msg and "train.options may set only progress, workers, download" in msg


def test_train_options_keep_the_harmless_ones():
    plan = wfconfig.check(config({"train": {"options": {"progress": False, "workers": 2, "download": False}}}))
    args = plan.train_args("cifar10", "X-VGG16-2")
    assert "--no-progress" in args and "--workers 2" in args and "--no-download" in args
    assert args.count("--epochs") == 1  # the scale's, once
    # an unknown key is still named by train_args (with the known ones)
    assert refused({"train": {"options": {"colour": 1}}}).startswith("train.options.colour: unknown")


def test_every_trainer_option_is_decided():
    """A new TrainConfig field is refused in train.options until someone decides it is harmless."""
    for f in fields(TrainConfig):
        if f.name in wfconfig.TRAIN_OPTIONS:
            continue
        with pytest.raises(wfconfig.ConfigError, match=f"^train.options.{f.name}: part of a run's identity"):
            wfconfig._check_train_option(f.name)


TRAIN = ["--dataset", "synthetic-cifar10", "--epochs", "1", "--batch-size", "16", "--train-size", "32"]
TRAIN += ["--val-size", "16", "--no-progress"]


@pytest.mark.parametrize(
    "model, arg, fixes",
    [
        ("X-DenseNet-BC-40-24-2", "depth=10", "fixes depth=40"),
        ("X-DenseNet-BC-40-24-2", "growth=8", "fixes growth=24"),
        ("X-DenseNet-BC-40-24-2", "compression=4", "fixes compression=2"),
        ("DenseNet-BC-40-24", "conv='x'", "fixes conv='dense'"),
        ("X-VGG16-1", "compression=4", "fixes compression=9"),
        ("X-VGG16-2", "compression=4", "fixes its per-layer degrees"),  # original: the authors' degrees
        ("VGG16", "width=0.5", "fixes width=1.0"),
        ("X-MobileNet-0.5-4-b16", "block_size=8", "fixes block_size=16"),
    ],
)
def test_model_arg_contradicting_the_published_name_is_refused(tmp_path, capsys, model, arg, fixes):
    out = tmp_path / "r"
    rc = cli.main(["train", "--model", model, "--model-arg", arg, "--out", str(out), *TRAIN])
    err = one_line_error(capsys, rc)
    assert f"--model-arg {arg} contradicts the model name {model} (which {fixes})" in err
    assert not out.exists()


def test_model_args_of_a_family_name_or_equal_to_the_name_are_accepted():
    from xnet.training.model import resolve_model

    assert resolve_model("densenet_bc_cifar", {"depth": 10, "growth": 8}).kwargs["depth"] == 10
    assert resolve_model("X-DenseNet-BC-40-24-2", {"depth": 40, "conv": "x"}).kwargs["depth"] == 40
    assert resolve_model("X-ResNet-4-50", {"block_size": 16}, "paper").kwargs["block_size"] == 16  # not in the name
    assert resolve_model("VGG16", {"dropout": 0.3}).kwargs["dropout"] == 0.3  # not a fact of the name


# ------------------------------------------------------------------ 2. gather: record vs path, vs itself
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run of 2 epochs (densenet_bc_cifar on synthetic-cifar10, seed 1), trained once."""
    from xnet.training import train

    out = tmp_path_factory.mktemp("identity") / "run"
    train(tiny_train_config(out, epochs=2))
    assert (out / "metrics.json").exists()
    return out


def _place(finished, root: Path, rel: str, edit=None) -> Path:
    d = json.loads((finished / "metrics.json").read_text())
    if edit:
        edit(d)
    path = root / rel / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(d))
    return path


HOME = "runs/smoke/cifar10/densenet_bc_cifar/original/seed1"


def test_gather_accepts_a_record_in_its_own_directory_and_outside_the_layout(finished, tmp_path):
    from xnet.results.gather import gather

    a = _place(finished, tmp_path, HOME)
    b = _place(finished, tmp_path, "mine/first-try", lambda d: (d.update(seed=7), d["config"].update(seed=7)))
    df = gather([a, b], scale="smoke")
    assert sorted(df["seed"]) == [1, 7]


@pytest.mark.parametrize(
    "rel, field, have, path_says",
    [
        ("runs/smoke/cifar10/densenet_bc_cifar/original/seed2", "seed", "1", "2"),
        ("runs/smoke/cifar10/X-DenseNet-BC-40-24-2/original/seed1", "model", "'densenet_bc_cifar'", "'X-Dense"),
        ("runs/smoke/cifar100/densenet_bc_cifar/original/seed1", "dataset", "'cifar10'", "'cifar100'"),
        ("runs/smoke/cifar10/densenet_bc_cifar/paper/seed1", "variant", "'original'", "'paper'"),
    ],
)
def test_gather_refuses_a_record_that_is_not_the_run_its_path_names(finished, tmp_path, rel, field, have, path_says):
    from xnet.results.gather import gather

    path = _place(finished, tmp_path, rel)
    with pytest.raises(RecordError) as e:
        gather([path])
    msg = str(e.value)
    assert msg.startswith(f"{path}: the record's {field} is {have} but its path says {path_says}"), msg
    assert "\n" not in msg


def test_gather_refuses_a_record_of_another_scale(finished, tmp_path, capsys):
    from xnet.results.__main__ import main

    path = _place(finished, tmp_path, HOME)
    out = tmp_path / "runs.csv"
    rc = main(["gather", str(tmp_path / "runs"), "-o", str(out), "--scale", "paper"])
    err = one_line_error(capsys, rc)
    assert f"{path}: the path's scale is 'smoke', not the scale 'paper' being gathered" in err
    assert not out.exists()
    assert main(["gather", str(tmp_path / "runs"), "-o", str(out), "--scale", "smoke"]) == 0


def _hist(d, errs):
    for h, e in zip(d["history"], errs):
        h["val_top1_err"] = e


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda d: d.update(top1_err=d["top1_err"] + 1.0), "top1_err: "),
        (lambda d: (_hist(d, [50.0, 40.0]), d.update(top1_err=40.0, best_top1_err=45.0)), "best_top1_err: 45.0 is"),
        (lambda d: (_hist(d, [50.0, 40.0]), d.update(top1_err=40.0, best_top1_err=40.0, best_epoch=1)), "best_epoch:"),
        (lambda d: d.update(top5_err=d["top5_err"] + 1.0), "top5_err: "),
        (lambda d: d.update(epochs=3), "history: has 2 epochs but epochs is 3"),
    ],
)
def test_gather_refuses_a_record_that_contradicts_its_history(finished, tmp_path, edit, fragment):
    from xnet.results.gather import gather

    path = _place(finished, tmp_path, HOME, edit)
    with pytest.raises(RecordError) as e:
        gather([path])
    msg = str(e.value)
    assert msg.startswith(f"{path}: invalid run record: ") and fragment in msg, msg
    assert "\n" not in msg


@pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake not installed")
def test_workflow_gathers_with_its_scale(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"experiments": TINY}))
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path)]
    cmd += ["--configfile", str(tmp_path / "c.yaml"), "--cores", "1", "-n", "-p", "results/runs.csv"]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    gathers = [ln for ln in (r.stdout + r.stderr).splitlines() if "xnet.results gather" in ln]
    assert gathers and all(ln.rstrip().split(" > ")[0].endswith("--scale smoke") for ln in gathers), gathers


# ------------------------------------------------------------------ 3. precision, device, data in the identity
class Killed(BaseException):
    """Stands for SIGKILL in the middle of an epoch (not an Exception: nothing catches it)."""


def _kill_in_epoch(monkeypatch, epoch):
    import xnet.training.loop as T

    real = T.train_one_epoch

    def patched(model, loader, optimizer, rt, ep, *a, **kw):
        if ep == epoch:
            raise Killed
        return real(model, loader, optimizer, rt, ep, *a, **kw)

    monkeypatch.setattr(T, "train_one_epoch", patched)


def test_resume_with_another_precision_is_refused(tmp_path, monkeypatch):
    from xnet.training import load_checkpoint, train

    out = tmp_path / "run"
    _kill_in_epoch(monkeypatch, 2)
    with pytest.raises(Killed):
        train(tiny_train_config(out))
    monkeypatch.undo()
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 1
    before = _snapshot(out)
    with pytest.raises(UserError) as e:
        train(tiny_train_config(out, amp=True))  # epochs 2-3 in bfloat16: refused
    assert str(e.value).endswith(
        "belongs to a different configuration (differs in: amp); choose another --out or run the same command as before"
    )
    assert _snapshot(out) == before
    m = train(tiny_train_config(out, amp=False))  # --no-amp on the CPU is the default: the same run
    assert m["amp"] is False and m["config"]["amp"] is False and m["config"]["device"] == "cpu"
    assert [h["epoch"] for h in m["history"]] == [1, 2, 3]


def test_a_deleted_record_is_not_rebuilt_with_another_precision(finished, tmp_path):
    from xnet.training import train

    out = tmp_path / "run"
    shutil.copytree(finished, out)
    (out / "metrics.json").unlink()
    before = _snapshot(out)
    with pytest.raises(UserError, match=r"differs in: amp\)"):
        train(tiny_train_config(out, epochs=2, amp=True))
    assert _snapshot(out) == before and not (out / "metrics.json").exists()
    with pytest.raises(UserError, match=r"holds a finished run with a different configuration \(differs in: amp\)"):
        train(tiny_train_config(finished, epochs=2, amp=True))


NEW_KEYS = ("amp", "device", "data_dir", "family", "model_kwargs", "data_fingerprint")


def test_identities_written_before_the_new_fields_still_resume_and_finish(finished, tmp_path, capsys):
    from xnet.training import train

    # a checkpoint of before: resumes (here: rebuilds the deleted record) with the defaults
    out = tmp_path / "ckpt"
    shutil.copytree(finished, out)
    (out / "metrics.json").unlink()
    ck = torch.load(out / "checkpoint.pt", weights_only=False)
    for k in NEW_KEYS:
        del ck["config"][k]
    torch.save(ck, out / "checkpoint.pt")
    m = train(tiny_train_config(out, epochs=2))
    assert m["top1_err"] == json.loads((finished / "metrics.json").read_text())["top1_err"]
    # a finished record of before: still finished (nothing touched), but not for another precision
    out = tmp_path / "record"
    shutil.copytree(finished, out)
    rec = json.loads((out / "metrics.json").read_text())
    for k in NEW_KEYS:
        del rec["config"][k]
    (out / "metrics.json").write_text(json.dumps(rec))
    before = _snapshot(out)
    capsys.readouterr()
    assert cli.main(["train", *_tiny_cli(out, epochs=2)]) == 0
    assert "is already finished" in capsys.readouterr().err
    assert cli.main(["train", *_tiny_cli(out, epochs=2), "--amp"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("xnet: error: ") and err.endswith("(differs in: amp); choose another --out"), err
    assert _snapshot(out) == before


def _tiny_cli(out, **over):
    cfg = tiny_train_config(out, **over)
    argv = ["--model", cfg.model, "--dataset", cfg.dataset, "--out", cfg.out, "--seed", str(cfg.seed)]
    argv += ["--epochs", str(cfg.epochs), "--batch-size", str(cfg.batch_size), "--train-size", str(cfg.train_size)]
    argv += ["--val-size", str(cfg.val_size), "--no-progress"]
    return argv + [a for k, v in cfg.model_args.items() for a in ("--model-arg", f"{k}={v!r}")]


def test_a_cuda_checkpoint_of_before_is_recognised_by_its_scaler(tmp_path):
    """A checkpoint of before with a GradScaler state was trained on CUDA with AMP (what --device cuda
    does by default); one without is taken as cpu / no AMP."""
    from xnet.training.trainer import _resumable

    ck = {"format": 1, "config": {"seed": 1}, "epoch": 1, "model": "m", "model_args": {}, "num_classes": 10}
    ck.update(model_state={}, versions={"xnet": __import__("xnet").__version__})
    cuda = {"seed": 1, "device": "cuda", "amp": True, "data_dir": None}
    torch.save({**ck, "scaler_state": {"scale": 65536.0}}, tmp_path / "checkpoint.pt")
    assert _resumable(tmp_path, cuda)["epoch"] == 1
    torch.save({**ck, "scaler_state": None}, tmp_path / "checkpoint.pt")
    with pytest.raises(UserError, match=r"differs in: amp, device\)"):
        _resumable(tmp_path, cuda)
    assert _resumable(tmp_path, {**cuda, "device": "cpu", "amp": False})["epoch"] == 1


def test_the_data_directory_is_part_of_the_identity(tmp_path, monkeypatch):
    from xnet.training import train

    write_fake_cifar(tmp_path / "a", "cifar10")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    monkeypatch.chdir(tmp_path)
    base = dict(dataset="cifar10", epochs=1, batch_size=8, train_size=None, val_size=None, download=False)
    out = tmp_path / "run"
    m = train(tiny_train_config(out, data_dir="a", **base))
    assert m["config"]["data_dir"] == str(tmp_path / "a")
    before = _snapshot(out)
    assert train(tiny_train_config(out, data_dir=str(tmp_path / "a"), **base)) == m  # the same directory
    with pytest.raises(UserError, match=r"differs in: data_dir\)"):
        train(tiny_train_config(out, data_dir="b", **base))
    assert _snapshot(out) == before
    assert train(tiny_train_config(tmp_path / "syn", data_dir="b"))["config"]["data_dir"] is None  # not read


def test_the_identity_is_complete(finished):
    """The one definition (xnet.runs.identity.RunIdentity) is what a run stores, every field of it."""
    from xnet.runs.identity import FIELDS

    config = json.loads((finished / "metrics.json").read_text())["config"]
    assert list(config) == list(FIELDS)
    assert config["family"] == "densenet_bc_cifar" and config["model"] == "densenet_bc_cifar"
    assert config["model_kwargs"] == {"depth": 10, "growth": 8, "conv": "x", "compression": 2}
    assert config["data_fingerprint"] is None and config["data_dir"] is None  # synthetic: generated, not read
    assert config["world_size"] == 1 and config["recipe"]["lr_floor"] == 0.0005


def test_the_resolved_network_is_compared_on_resume(finished, tmp_path):
    """The same name and --model-arg resolving to another network (the name's meaning changed) is refused."""
    from xnet.training.trainer import _resumable

    ck = torch.load(finished / "checkpoint.pt", weights_only=False)
    new = dict(ck["config"])
    assert _resumable(finished, new)["epoch"] == 2
    with pytest.raises(UserError, match=r"differs in: model_kwargs\)"):
        _resumable(finished, {**new, "model_kwargs": {**new["model_kwargs"], "growth": 12}})


def test_the_data_files_are_part_of_the_identity(tmp_path, monkeypatch):
    from xnet.training import train

    folder = write_fake_cifar(tmp_path / "a", "cifar10")
    monkeypatch.chdir(tmp_path)
    base = dict(dataset="cifar10", epochs=1, batch_size=8, train_size=None, val_size=None, download=False)
    out = tmp_path / "run"
    m = train(tiny_train_config(out, data_dir="a", **base))
    assert isinstance(m["config"]["data_fingerprint"], str)
    assert train(tiny_train_config(out, data_dir="a", **base)) == m  # the same files: finished
    batch = folder / "data_batch_1"
    raw = bytearray(batch.read_bytes())
    raw[-20] ^= 1  # one byte of one image
    batch.write_bytes(bytes(raw))
    before = _snapshot(out)
    with pytest.raises(UserError, match=r"differs in: data_fingerprint\)"):
        train(tiny_train_config(out, data_dir="a", **base))
    (out / "metrics.json").unlink()  # nor does it resume (rebuild its record) on other data
    with pytest.raises(UserError, match=r"belongs to a different configuration \(differs in: data_fingerprint\)"):
        train(tiny_train_config(out, data_dir="a", **base))
    assert _snapshot(out) == {k: v for k, v in before.items() if k != "metrics.json"}


def test_identity_problems_names_what_the_path_and_scale_contradict():
    from xnet.runs.identity import identity_problems

    config = {"model": "X-VGG16-2", "seed": 0, "epochs": 2, "recipe": {"milestones": [1]}}
    assert identity_problems(config, {"model": "X-VGG16-2", "seed": 0, "recipe": {"milestones": (1,)}}) == []
    assert identity_problems(config, {"seed": 1, "epochs": 3}) == ["seed is 0, expected 1", "epochs is 2, expected 3"]
    assert identity_problems(config, {"device": "cuda"}) == ["device is 'cpu', expected 'cuda'"]  # DEFAULTS
    assert identity_problems(config, {"data_fingerprint": "abc"}) == []  # not recorded: not compared
    assert identity_problems([], {"seed": 0}) == ["config is list, expected an object (a run identity)"]
    with pytest.raises(ValueError, match="not fields of a run identity: colour"):
        identity_problems(config, {"colour": 1})


# ------------------------------------------------------------------ 4. a config edit never destroys a run
def _smoke(tmp_path, *args, scale=None, profile=True):
    cfg = {"experiments": TINY, **({"scale": scale} if scale else {})}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path)]
    cmd += ["--configfile", str(tmp_path / "c.yaml"), "--cores", "1"]
    cmd += ["--workflow-profile", str(PROFILE) if profile else "none", *args]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout + r.stderr


RUN = "runs/smoke/cifar10/X-VGG16-2/original/seed0"


@pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake not installed")
def test_a_config_edit_keeps_every_finished_run(tmp_path, capsys):
    metrics = tmp_path / RUN / "metrics.json"
    rc, out = _smoke(tmp_path, f"{RUN}/metrics.json")
    assert rc == 0 and metrics.exists(), out[-3000:]
    assert "Using workflow specific profile" in out
    before = _snapshot(metrics.parent)
    # scale.epochs edited, scale.name kept: without the profile Snakemake would rerun (delete) the run
    rc, out = _smoke(tmp_path, "-n", f"{RUN}/metrics.json", scale={"epochs": 2}, profile=False)
    assert rc == 0 and "rule train:" in out, out[-3000:]
    # with it: nothing is retrained or deleted, and gather stops in one line naming the edited key
    # and what to do, instead of mixing a 1-epoch record into tables of a 2-epoch scale
    rc, out = _smoke(tmp_path, f"{RUN}/metrics.json", "results/runs.csv", scale={"epochs": 2})
    assert rc != 0 and "rule train:" not in out and "rule gather:" in out, out[-3000:]
    assert "the record's epochs is 1 but the scale 'smoke' now says 2" in out and "new scale.name" in out
    assert _snapshot(metrics.parent) == before and not (tmp_path / "results/runs.csv").exists()
    # the scale as it was: the kept record makes the table
    rc, out = _smoke(tmp_path, f"{RUN}/metrics.json", "results/runs.csv")
    assert rc == 0 and "rule train:" not in out and (tmp_path / "results/runs.csv").exists(), out[-3000:]
    # and were the trainer started on it with the edited scale, it refuses in one line, keeping it
    train = ["train", "--model", "X-VGG16-2", "--seed", "0", "--out", str(metrics.parent)]
    train += ["--dataset", "synthetic-cifar10", "--epochs", "2", "--batch-size", "16"]
    train += ["--limit-train-batches", "2", "--limit-val-batches", "1", "--device", "cpu", "--variant", "original"]
    rc = cli.main([*train, "--no-progress"])
    err = one_line_error(capsys, rc)
    assert "holds a finished run with a different configuration (differs in: epochs" in err
    assert metrics.read_bytes() == before["metrics.json"]


@pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake not installed")
def test_a_plain_snakemake_call_uses_the_default_profile(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"experiments": TINY}))
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path)]
    cmd += ["--configfile", str(tmp_path / "c.yaml"), "--cores", "1", "-n"]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Using workflow specific profile" in r.stdout + r.stderr
