"""Training end to end on built-in data: CLI, metrics, resume after SIGKILL, evaluate, errors."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from xnet import cli
from xnet.evaluate import evaluate_checkpoint
from xnet.training import load_checkpoint, train

from conftest import TINY_ARGS, tiny_train_config

ROOT = Path(__file__).resolve().parents[1]
# a tiny X-DenseNet-BC (depth 10, growth 8, compression 2): ~5k parameters
TINY_CLI = ["--model", "densenet_bc_cifar"] + [a for k, v in TINY_ARGS.items() for a in ("--model-arg", f"{k}={v}")]
VOLATILE = {"wall_time_s", "time_s", "train_s", "peak_memory_mb", "versions", "device_info"}


def strip(metrics):
    """metrics.json without the wall-clock fields."""
    if isinstance(metrics, dict):
        return {k: strip(v) for k, v in metrics.items() if k not in VOLATILE}
    if isinstance(metrics, list):
        return [strip(v) for v in metrics]
    return metrics


def xnet_cmd(*args):
    return [sys.executable, "-m", "xnet", *args]


def _env():
    # one thread in the subprocesses, as in this process (see one_thread): same arithmetic, and
    # tiny convolutions run faster on one thread on a busy 2-core machine
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def run(args, **kw):
    env = _env()
    return subprocess.run(xnet_cmd(*args), capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, **kw)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "e2e"
    args = [
        "train",
        *TINY_CLI,
        "--dataset",
        "synthetic-cifar10",
        "--seed",
        "3",
        "--out",
        str(out),
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--train-size",
        "96",
        "--val-size",
        "48",
        "--limit-train-batches",
        "4",
        "--limit-val-batches",
        "2",
        "--set",
        "lr=0.05",
    ]
    p = run(args)
    assert p.returncode == 0, p.stderr
    return out, args, p


def test_end_to_end_metrics(finished_run):
    out, _, p = finished_run
    assert "loss=" in p.stderr and "acc=" in p.stderr  # the per-epoch progress bar
    m = json.loads((out / "metrics.json").read_text())
    for key in (
        "model",
        "dataset",
        "seed",
        "recipe",
        "epochs",
        "top1_err",
        "best_top1_err",
        "top5_err",
        "params",
        "macs",
        "history",
        "wall_time_s",
        "device",
        "versions",
        "batch_size",
        "limit_train_batches",
        "limit_val_batches",
    ):
        assert key in m, key
    assert (m["model"], m["dataset"], m["seed"], m["epochs"], m["batch_size"]) == (
        "densenet_bc_cifar",
        "synthetic-cifar10",
        3,
        2,
        16,
    )
    assert m["model_args"] == TINY_ARGS and m["device"] == "cpu"
    assert m["recipe"]["lr"] == 0.05 and m["recipe"]["weight_decay"] == 1e-4 and m["recipe"]["nesterov"] is True
    assert [h["epoch"] for h in m["history"]] == [1, 2]
    assert m["history"][0]["lr"] == 0.05 and m["history"][1]["lr"] == pytest.approx(0.005)  # milestone 150/300 -> 1
    for h in m["history"]:
        assert {"epoch", "train_loss", "val_top1_err", "lr"} <= set(h)
        assert h["train_images"] == 64 and h["val_images"] == 32  # limited batches
        assert 0 <= h["val_top1_err"] <= 100 and h["train_loss"] > 0
    assert m["top1_err"] == m["history"][-1]["val_top1_err"]
    # the run record: the model's facts, validated on load
    from xnet.runs.record import RunRecord

    rec = RunRecord.load(out / "metrics.json")
    assert (rec.family, rec.conv, rec.compression, rec.depth, rec.growth, rec.variant) == (
        "densenet_bc_cifar",
        "x",
        2,
        10,
        8,
        "original",
    )
    assert rec.paper_dataset == "cifar10" and rec.amp is False and rec.amp_dtype is None
    assert rec.best_top5_err == min(h["val_top5_err"] for h in m["history"])
    assert m["history"][m["best_epoch"] - 1]["val_top1_err"] == m["best_top1_err"]
    assert m["best_top1_err"] == min(h["val_top1_err"] for h in m["history"])
    assert 0 <= m["top5_err"] <= m["top1_err"]
    import xnet.counting
    import xnet.models

    model = xnet.models.create("densenet_bc_cifar", num_classes=10, **TINY_ARGS)
    assert {"params": m["params"], "macs": m["macs"]} == xnet.counting.profile(model, (3, 32, 32))
    assert m["versions"]["torch"] == torch.__version__
    log = (out / "train.log").read_text()
    assert "epoch 2/2" in log and "done: top1_err" in log
    assert sorted(f.name for f in out.iterdir()) == [".lock", "checkpoint.pt", "metrics.json", "train.log"]


def test_finished_run_does_nothing(finished_run, capsys):
    out, args, _ = finished_run
    before = (out / "metrics.json").read_bytes(), (out / "checkpoint.pt").stat().st_mtime_ns
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    assert "already finished" in err and "nothing to do" in err
    assert ((out / "metrics.json").read_bytes(), (out / "checkpoint.pt").stat().st_mtime_ns) == before


def test_evaluate_checkpoint(finished_run, capsys):
    out, _, _ = finished_run
    m = json.loads((out / "metrics.json").read_text())
    res = evaluate_checkpoint(out / "checkpoint.pt", batch_size=16, limit_val_batches=2, progress=False)
    assert res["images"] == 32 and res["epoch"] == 2
    assert res["top1_err"] == pytest.approx(m["top1_err"]) and res["top5_err"] == pytest.approx(m["top5_err"])
    assert res["params"] == m["params"]
    # the CLI form, on the run directory, the whole (48-image) validation set
    assert cli.main(["evaluate", "--checkpoint", str(out), "--no-progress", "--json", str(out.parent / "ev.json")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["images"] == 48 and printed == json.loads((out.parent / "ev.json").read_text())
    # the X-layers' graphs travel in the state_dict: a model built with another graph seed gets them back
    import xnet.models

    ckpt = load_checkpoint(out / "checkpoint.pt")
    other = xnet.models.create("densenet_bc_cifar", num_classes=10, seed=12345, **TINY_ARGS)
    key = next(k for k in ckpt["model_state"] if k.endswith("neighbors"))
    assert not torch.equal(other.state_dict()[key], ckpt["model_state"][key])
    other.load_state_dict(ckpt["model_state"])
    assert torch.equal(other.state_dict()[key], ckpt["model_state"][key])


def _cfg(out, **kw):
    return tiny_train_config(out, **kw)


def test_prepare_decides_the_run_without_touching_it(tmp_path):
    import dataclasses

    from xnet.errors import UserError
    from xnet.training import prepare

    cfg = tiny_train_config(tmp_path / "r")
    plan = prepare(cfg)
    assert not (tmp_path / "r").exists() and plan.cfg is not cfg
    assert (plan.epochs, plan.batch_size, plan.world, plan.amp, plan.per_rank) == (3, 32, 1, False, 32)
    assert plan.identity.model_kwargs == TINY_ARGS and plan.identity.epochs == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.epochs = 4
    with pytest.raises(UserError, match="batch_size 32 is not divisible by the 3 processes"):
        prepare(cfg, world=3)


def test_kill_and_resume_gives_identical_metrics(tmp_path, capsys):
    # reference: never interrupted
    ref = train(_cfg(tmp_path / "ref"))
    assert len(ref["history"]) == 3
    assert len({h["train_loss"] for h in ref["history"]}) == 3
    # the same run, SIGKILLed as soon as its first checkpoint is on disk, then started again
    out = tmp_path / "killed"
    args = [
        "train",
        *TINY_CLI,
        "--dataset",
        "synthetic-cifar10",
        "--seed",
        "1",
        "--out",
        str(out),
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--train-size",
        "96",
        "--val-size",
        "32",
        "--no-progress",
    ]
    env = _env()
    proc = subprocess.Popen(xnet_cmd(*args), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (out / "checkpoint.pt").exists():
        assert proc.poll() is None and time.time() < deadline, "run ended before its first checkpoint"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "metrics.json").exists()
    done = load_checkpoint(out / "checkpoint.pt")["epoch"]
    assert 1 <= done < 3
    capsys.readouterr()
    assert cli.main(args) == 0
    assert f"resuming {out} from epoch {done}/3" in capsys.readouterr().err
    resumed = json.loads((out / "metrics.json").read_text())
    assert strip(resumed) == strip(json.loads(json.dumps(ref)))
    assert "resuming" in (out / "train.log").read_text()


def test_different_seed_differs_and_foreign_run_is_refused(tmp_path, capsys):
    a = train(_cfg(tmp_path / "a", epochs=1, train_size=64, val_size=32))
    metrics = (tmp_path / "a" / "metrics.json").read_bytes()
    capsys.readouterr()
    # same directory, other seed: refused, nothing touched
    rc = cli.main(
        [
            "train",
            *TINY_CLI,
            "--dataset",
            "synthetic-cifar10",
            "--seed",
            "2",
            "--out",
            str(tmp_path / "a"),
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--train-size",
            "64",
            "--val-size",
            "32",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("xnet: error:") and "\n" not in err
    assert "different configuration" in err and "seed" in err
    assert (tmp_path / "a" / "metrics.json").read_bytes() == metrics
    b = train(_cfg(tmp_path / "b", epochs=1, train_size=64, val_size=32, seed=2))
    assert strip(a["history"]) != strip(b["history"])


def _error(argv, capsys):
    rc = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert err.startswith("xnet: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _train_argv(out, *extra, model=("--model", "densenet_bc_cifar"), dataset="synthetic-cifar10"):
    return [
        "train",
        *model,
        "--dataset",
        dataset,
        "--out",
        str(out),
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--train-size",
        "16",
        "--val-size",
        "8",
        "--no-progress",
        *extra,
    ]


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (dict(model=("--model", "NoSuchNet-7")), "model 'NoSuchNet-7': unknown model"),
        (dict(model=("--model", "ResNet-7")), "model 'ResNet-7': depth"),
        (dict(dataset="mnist"), "unknown dataset 'mnist'"),
        (dict(extra=("--set", "lr=fast")), "recipe field lr: expected a number, got 'fast'"),
        (dict(extra=("--set", "epochs=2.5")), "recipe field epochs: expected an integer"),
        (dict(extra=("--set", "colour=red")), "unknown recipe field 'colour'"),
        (dict(dataset="imagenet", extra=("--data-dir", "{tmp}/no_imagenet")), "has no train/ folder"),
        (dict(dataset="cifar10", extra=("--data-dir", "{tmp}/empty", "--no-download")), "cifar10: not found"),
        (dict(dataset="cifar100"), "cifar100: needs --data-dir"),
        (dict(extra=("--device", "cuda")), "cuda"),
        (dict(extra=("--model-arg", "depth=11")), "model 'densenet_bc_cifar'"),
    ],
)
def test_bad_input_one_line_error(tmp_path, capsys, argv, fragment):
    if argv.get("extra") == ("--device", "cuda") and torch.cuda.is_available():
        pytest.skip("has CUDA")
    extra = [e.replace("{tmp}", str(tmp_path)) for e in argv.get("extra", ())]
    (tmp_path / "empty").mkdir()
    kw = {k: v for k, v in argv.items() if k != "extra"}
    err = _error(_train_argv(tmp_path / "out", *extra, **kw), capsys)
    assert fragment in err
    assert not (tmp_path / "out").exists()  # nothing written for bad input


def test_corrupt_checkpoint_is_reported_and_kept(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"\x00not a checkpoint")
    err = _error(_train_argv(out), capsys)
    assert "corrupt checkpoint" in err and str(out / "checkpoint.pt") in err
    assert (out / "checkpoint.pt").read_bytes() == b"\x00not a checkpoint"
    err = _error(["evaluate", "--checkpoint", str(out / "checkpoint.pt")], capsys)
    assert "corrupt checkpoint" in err
    torch.save({"weights": 1}, out / "checkpoint.pt")
    assert "not an xnet training checkpoint" in _error(_train_argv(out), capsys)
    assert "not found" in _error(["evaluate", "--checkpoint", str(tmp_path / "nope.pt")], capsys)


def test_foreign_metrics_file_is_kept(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("{broken")
    assert "refusing to overwrite" in _error(_train_argv(out), capsys)
    assert (out / "metrics.json").read_text() == "{broken"


def test_cli_error_exit_status():
    p = run(["train", "--model", "NoSuchNet", "--dataset", "synthetic-cifar10", "--out", "/nonexistent/x"])
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and p.stderr.startswith("xnet: error: model 'NoSuchNet'")


def test_ddp_two_cpu_processes(tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "xnet",
        "train",
        *TINY_CLI,
        "--dataset",
        "synthetic-cifar10",
        "--out",
        str(out),
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--train-size",
        "64",
        "--val-size",
        "17",
        "--limit-train-batches",
        "2",
        "--no-progress",
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["world_size"] == 2 and m["batch_size"] == 16 and len(m["history"]) == 2
    for h in m["history"]:
        assert h["train_images"] == 2 * 2 * 8  # 2 processes x 2 batches x 8 images
        assert h["val_images"] == 17  # sharded without padding (2 and 1 batches): every image once
    assert p.stderr.count("epoch 2/2 lr") == 1  # only rank 0 logs
    assert sorted(f.name for f in out.iterdir()) == [".lock", "checkpoint.pt", "metrics.json", "train.log"]
    assert load_checkpoint(out / "checkpoint.pt")["config"]["world_size"] == 2


def test_train_on_fake_cifar_and_imagefolder(tmp_path):
    from conftest import write_fake_cifar, write_fake_imagefolder

    write_fake_cifar(tmp_path / "c100", "cifar100", n_per_file=20)
    m = train(
        _cfg(
            tmp_path / "run_c100",
            dataset="cifar100",
            data_dir=str(tmp_path / "c100"),
            download=False,
            epochs=1,
            batch_size=8,
            train_size=None,
            val_size=None,
        )
    )
    assert m["num_classes"] == 100 and m["history"][0]["train_images"] == 16 and m["history"][0]["val_images"] == 20
    write_fake_imagefolder(tmp_path / "imnet")
    m = train(
        _cfg(
            tmp_path / "run_in",
            dataset="imagenet",
            data_dir=str(tmp_path / "imnet"),
            workers=0,
            epochs=1,
            batch_size=4,
            train_size=4,
            val_size=3,
        )
    )
    assert m["num_classes"] == 3 and m["input_size"] == [3, 224, 224]
    assert m["history"][0]["train_images"] == 4 and m["history"][0]["val_images"] == 3


# ---- one source of flags: TrainConfig -> argparse, train_args for the workflow ---------------------
def test_train_args_round_trip_through_the_parser():
    from xnet.training.config import EvaluateConfig, TrainConfig, config_from_args, train_args

    opts = {
        "model": "X-VGG16-2",
        "dataset": "synthetic-cifar10",
        "out": "runs/x",
        "seed": 3,
        "epochs": 2,
        "batch-size": 16,
        "limit_val_batches": None,
        "set": ["lr=0.05", "milestones=1,2"],
        "model_arg": {"conv": "x", "compression": 13},
        "variant": "paper",
        "download": False,
        "amp": False,
        "progress": False,
        "device": "cpu",
        "workers": 0,
    }
    argv = train_args(opts)
    assert argv[:6] == ["--model", "X-VGG16-2", "--dataset", "synthetic-cifar10", "--out", "runs/x"]
    assert "--limit-val-batches" not in argv and ["--no-amp", "--no-progress"] == [
        a for a in argv if "-amp" in a or "progress" in a
    ]
    cfg = config_from_args(TrainConfig, cli.build_parser().parse_args(["train", *argv]))
    assert cfg == TrainConfig(
        model="X-VGG16-2",
        dataset="synthetic-cifar10",
        out="runs/x",
        seed=3,
        epochs=2,
        batch_size=16,
        overrides={"lr": 0.05, "milestones": (1, 2)},
        model_args={"conv": "x", "compression": 13},
        variant="paper",
        download=False,
        amp=False,
        progress=False,
        workers=0,
    )
    # every field of the configs has exactly one flag in the parser
    actions = {a.dest for p in cli.build_parser()._subparsers._group_actions[0].choices.values() for a in p._actions}
    assert {f for f in TrainConfig.__dataclass_fields__} | {f for f in EvaluateConfig.__dataclass_fields__} <= actions


@pytest.mark.parametrize(
    "opts,fragment",
    [
        ({"epochs": 0}, "train option 'epochs': epochs: must be a positive integer"),
        ({"batch-size": "8x"}, "train option 'batch-size'"),
        ({"colour": 1}, "train option 'colour': unknown"),
        ({"set": ["weight_decay=nan"]}, "recipe field weight_decay: must be a finite number"),
        ({"device": "auto"}, "train option 'device': device: must be one of cpu, cuda"),
        ({"dataset": "mnist"}, "unknown dataset 'mnist'"),
        ({"seed": 2**32}, "train option 'seed'"),
        ({"epochs": 1, "Epochs": 2}, "unknown"),
    ],
)
def test_train_args_errors_name_the_key(opts, fragment):
    from xnet.recipes import UserError
    from xnet.training.config import train_args

    with pytest.raises(UserError, match=re.escape(fragment)):
        train_args(opts)


def test_check_set_pairs_with_a_family():
    from xnet.recipes import UserError
    from xnet.training.config import check_set_pairs

    assert check_set_pairs(["lr=0.05"], "vgg16_cifar") == {"lr": 0.05}
    assert check_set_pairs({"milestones": [3, 6]}) == {"milestones": (3, 6)}
    with pytest.raises(UserError, match="nesterov: needs momentum > 0"):
        check_set_pairs(["momentum=0"], "densenet_bc_cifar")
    with pytest.raises(UserError, match="lr_floor: must be a finite number"):
        check_set_pairs(["lr_floor=inf"])
