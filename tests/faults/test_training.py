"""Fault suite of the trainer (issue 10): every case fails loudly with one line, or works; nothing wrong is written.

Tiny models, synthetic data, a few batches; in-process through ``xnet.cli.main`` (exit status and
stderr) except where a second process is the point (the lock).
"""

import errno
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xnet import cli
from xnet.errors import RunDiverged, UserError
from xnet.runs.files import LOCK, RunLock
from xnet.training import load_checkpoint, train

from conftest import tiny_train_config

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--model",
    "densenet_bc_cifar",
    "--model-arg",
    "depth=10",
    "--model-arg",
    "growth=8",
    "--model-arg",
    "conv='x'",
    "--model-arg",
    "compression=2",
]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def argv(out, *extra, model=TINY, dataset="synthetic-cifar10"):
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


def error(args, capsys, started=False) -> str:
    """Run the CLI; assert exit status 2 and one line ``xnet: error: ...`` on stderr (after the run's log
    lines if it ``started``), no traceback."""
    capsys.readouterr()
    rc = cli.main([str(a) for a in args])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "Traceback" not in err, err
    if started:
        err = err.splitlines()[-1]
    assert err.startswith("xnet: error: ") and "\n" not in err, err
    return err


def cfg(out, **kw):
    return tiny_train_config(out, **{"batch_size": 16, "train_size": 32, "val_size": 16, **kw})


# ---- 1. divergence ------------------------------------------------------------------------------
def test_lr_100_diverges_one_line_no_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    err = error(
        argv(out, "--set", "lr=100", "--epochs", "3", "--train-size", "64", "--batch-size", "16"), capsys, started=True
    )
    assert "the run diverged" in err and "no metrics.json written" in err
    assert not (out / "metrics.json").exists()
    assert "the run diverged" in (out / "train.log").read_text()
    if (out / "checkpoint.pt").exists():  # the last good epoch's, with finite weights
        ck = load_checkpoint(out / "checkpoint.pt")
        assert f"checkpoint of epoch {ck['epoch']} was kept" in err
        assert all(torch.isfinite(t).all() for t in ck["model_state"].values() if t.is_floating_point())


def _poison_epoch(monkeypatch, epoch, how):
    """Make epoch ``epoch`` go wrong: ``weights`` (a NaN weight after training) or ``val`` (NaN outputs in eval)."""
    import xnet.training.loop as T

    real = T.train_one_epoch

    def patched(model, loader, optimizer, rt, ep, *a, **kw):
        res = real(model, loader, optimizer, rt, ep, *a, **kw)
        if ep == epoch:
            p = next(model.parameters())
            if how == "weights":
                with torch.no_grad():
                    p.view(-1)[0] = float("nan")
            else:
                model.register_forward_hook(lambda m, i, o: o * float("nan") if not m.training else o)
        return res

    monkeypatch.setattr(T, "train_one_epoch", patched)


@pytest.mark.parametrize("how,fragment", [("weights", "non-finite weights"), ("val", "validation loss is nan")])
def test_divergence_keeps_last_good_checkpoint_and_resumes(tmp_path, monkeypatch, how, fragment):
    out = tmp_path / "run"
    _poison_epoch(monkeypatch, 2, how)
    with pytest.raises(RunDiverged, match=fragment) as e:
        train(cfg(out))
    assert "the checkpoint of epoch 1 was kept" in str(e.value)
    assert not (out / "metrics.json").exists()
    ck = load_checkpoint(out / "checkpoint.pt")
    assert ck["epoch"] == 1 and all(
        torch.isfinite(t).all() for t in ck["model_state"].values() if t.is_floating_point()
    )
    monkeypatch.undo()
    m = train(cfg(out))  # the good checkpoint resumes to a finished run
    assert [h["epoch"] for h in m["history"]] == [1, 2, 3]
    assert json.loads((out / "metrics.json").read_text())["top1_err"] == m["top1_err"]


def test_first_epoch_divergence_writes_nothing_but_the_log(tmp_path, monkeypatch):
    out = tmp_path / "run"
    _poison_epoch(monkeypatch, 1, "weights")
    with pytest.raises(RunDiverged, match="no checkpoint was written"):
        train(cfg(out, epochs=1))
    assert sorted(p.name for p in out.iterdir()) == [LOCK, "train.log"]


@pytest.mark.parametrize(
    "item", ["weight_decay=nan", "lr_floor=nan", "lr_floor=inf", "lr=inf", "momentum=nan", "gamma=-inf", "lr=1e400"]
)
def test_nonfinite_recipe_values_refused_up_front(tmp_path, capsys, item):
    err = error(argv(tmp_path / "run", "--set", item), capsys)
    assert f"recipe field {item.split('=')[0]}: must be a finite number" in err
    assert not (tmp_path / "run").exists()


def test_evaluate_refuses_nonfinite_checkpoint_and_empty_pass(tmp_path, capsys):
    out = tmp_path / "run"
    train(cfg(out, epochs=1))
    err = error(["evaluate", "--checkpoint", out, "--limit-val-batches", "0"], capsys)
    assert "--limit-val-batches: must be a positive integer, got 0" in err
    ck = torch.load(out / "checkpoint.pt", weights_only=False)
    key = next(k for k, t in ck["model_state"].items() if t.is_floating_point())
    ck["model_state"][key].view(-1)[0] = float("inf")
    torch.save(ck, out / "checkpoint.pt")
    err = error(["evaluate", "--checkpoint", out, "--no-progress"], capsys)
    assert "non-finite weights" in err and key in err


def test_evaluate_model_refuses_nan_loss_and_no_images():
    from xnet.training.engine import Runtime, evaluate_model

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3, 4))
    data = [(torch.full((2, 3), float("nan")), torch.tensor([0, 1]))]
    with pytest.raises(RunDiverged, match="the validation loss is nan"):
        evaluate_model(model, data, Runtime(torch.device("cpu")))
    with pytest.raises(UserError, match="no validation images"):
        evaluate_model(model, [], Runtime(torch.device("cpu")))


def test_metrics_json_is_strict_json(tmp_path):
    out = tmp_path / "run"
    train(cfg(out, epochs=1))
    text = (out / "metrics.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in metrics.json"))


# ---- 4. one trainer per run directory -------------------------------------------------------------
def test_second_trainer_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    with RunLock(out):
        err = error(argv(out), capsys)
    assert f"is in use by process {os.getpid()}" in err
    assert not (out / "metrics.json").exists() and not (out / "checkpoint.pt").exists()
    assert cli.main(argv(out)) == 0  # released: the run goes ahead


def test_lock_released_by_the_kernel_when_holder_is_killed(tmp_path):
    code = (
        "import sys, time; from xnet.runs.files import RunLock; RunLock(sys.argv[1]).acquire(); "
        "print('locked', flush=True); time.sleep(120)"
    )
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert p.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match=f"in use by process {p.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    with RunLock(tmp_path) as lock:
        assert (tmp_path / LOCK).read_text().strip() == str(os.getpid()) and lock.fd is not None


# ---- tracebacks -> one-line errors -----------------------------------------------------------------
@pytest.mark.parametrize("seed", ["-1", str(2**32), str(2**64), "1.5", "x"])
def test_seed_out_of_range(tmp_path, capsys, seed):
    assert "--seed: must be an integer in 0..4294967295" in error(argv(tmp_path / "r", "--seed", seed), capsys)
    assert not (tmp_path / "r").exists()


def test_largest_seed_trains(tmp_path):
    m = train(cfg(tmp_path / "r", epochs=1, seed=2**32 - 1))
    assert m["seed"] == 2**32 - 1


@pytest.mark.parametrize(
    "model,arg",
    [
        (("--model", "MobileNet-0.5"), "width=-1"),
        (("--model", "MobileNet-0.5"), "width=0"),
        (("--model", "VGG16"), "width=-1"),
        (("--model", "VGG16"), "width=0"),
        (("--model", "ResNet-18"), "width=0"),
    ],
)
def test_model_width_refused(tmp_path, capsys, model, arg):
    ds = "synthetic-imagenet" if model[1] != "VGG16" else "synthetic-cifar10"
    err = error(argv(tmp_path / "r", "--model-arg", arg, model=model, dataset=ds), capsys)
    assert "width" in err
    assert not (tmp_path / "r").exists()


def test_model_reduction_zero_refused_by_the_model(tmp_path, capsys):
    err = error(argv(tmp_path / "r", "--model-arg", "reduction=0"), capsys)
    assert "reduction" in err
    assert not (tmp_path / "r").exists()


def test_model_reduction_zero_is_one_line(tmp_path, capsys):
    error(argv(tmp_path / "r", "--model-arg", "reduction=0"), capsys)
    assert not (tmp_path / "r").exists()


def _imagefolder(root, n=4):
    from PIL import Image

    for split in ("train", "val"):
        for c in ("a", "b"):
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (40, 40), (60 * i, 10, 200)).save(root / split / c / f"{c}{i}.png")
    return root


@pytest.mark.parametrize("workers", [0, 1])
def test_corrupt_image_is_named(tmp_path, capsys, workers):
    root = _imagefolder(tmp_path / "imnet")
    bad = root / "train" / "b" / "b1.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    err = error(
        argv(
            tmp_path / "r",
            "--workers",
            workers,
            "--batch-size",
            "4",
            "--train-size",
            "8",
            "--val-size",
            "4",
            model=("--model", "ResNet-18"),
            dataset="imagenet",
        )
        + ["--data-dir", root],
        capsys,
        started=True,
    )
    assert f"cannot read image {bad}" in err


def test_out_under_a_file_or_not_writable(tmp_path, capsys, monkeypatch):
    (tmp_path / "f").write_text("x")
    assert "sits under" in error(argv(tmp_path / "f" / "run"), capsys)
    assert "exists and is not a directory" in error(argv(tmp_path / "f"), capsys)
    import xnet.runs.files as R

    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(R.os, "access", lambda p, mode: Path(p) != ro)  # tests run as root: simulate
    assert f"{ro} is not writable" in error(argv(ro / "run"), capsys)
    assert list(ro.iterdir()) == []


def test_full_disk_while_checkpointing_keeps_previous(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    real, calls = torch.save, []

    def save(obj, f, *a, **kw):
        calls.append(1)
        if len(calls) == 2:
            f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, f, *a, **kw)

    monkeypatch.setattr(torch, "save", save)
    err = error(argv(out, "--epochs", "3"), capsys, started=True)
    assert f"cannot write the checkpoint {out / 'checkpoint.pt'}: no space left on the device" in err
    monkeypatch.undo()
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 1
    assert sorted(p.name for p in out.iterdir()) == [LOCK, "checkpoint.pt", "train.log"]  # no .tmp, no metrics


def test_evaluate_bad_batch_size_and_json_dir(tmp_path, capsys):
    out = tmp_path / "run"
    train(cfg(out, epochs=1))
    assert "--batch-size: must be a positive integer" in error(
        ["evaluate", "--checkpoint", out, "--batch-size", "0"], capsys
    )
    assert "is a directory" in error(["evaluate", "--checkpoint", out, "--json", tmp_path], capsys)
    assert "does not exist" in error(["evaluate", "--checkpoint", out, "--json", tmp_path / "no" / "e.json"], capsys)
    assert "not found" in error(["evaluate", "--checkpoint", tmp_path], capsys)


def test_failure_after_the_directory_was_made_leaves_none(tmp_path, capsys, monkeypatch):
    import xnet.runs.files as R

    def refuse(self):
        raise UserError("simulated failure after mkdir")

    monkeypatch.setattr(R.RunLock, "acquire", refuse)
    error(argv(tmp_path / "a" / "b" / "run"), capsys)
    assert list(tmp_path.iterdir()) == []
    # and errors found while building the data or the model come before the directory exists
    error(argv(tmp_path / "run", "--batch-size", "64"), capsys)
    assert list(tmp_path.iterdir()) == []


def test_unknown_model_lists_accepted_names(tmp_path, capsys):
    err = error(argv(tmp_path / "r", model=("--model", "NoSuchNet-7")), capsys)
    assert "accepted names: ResNet-<depth>" in err and "MobileNet-0.5" in err and "mobilenet05_imagenet" in err


class _Bug(RuntimeError):
    pass


@pytest.mark.parametrize("where", ["build", "resolve"])
def test_a_bug_in_model_code_keeps_its_traceback(tmp_path, capsys, monkeypatch, where):
    """Issue 17: only a bad name or argument is the user's one line; a model that fails to resolve
    or build for any other reason propagates (with its traceback), before the run directory exists."""
    import xnet.models as models
    from xnet.models.registry import ModelSpec

    def broken(*a, **kw):
        raise _Bug("bug in model code")

    if where == "build":
        monkeypatch.setattr(ModelSpec, "build", broken)
    else:
        monkeypatch.setattr(models, "resolve", broken)
    with pytest.raises(_Bug, match="bug in model code") as e:
        cli.main(argv(tmp_path / "r"))
    assert e.traceback[-1].name == "broken"  # the traceback reaches into the model code
    assert not (tmp_path / "r").exists()
    monkeypatch.undo()
    err = error(argv(tmp_path / "r", model=("--model", "NoSuchNet-7")), capsys)  # the user's: one line
    assert "unknown model 'NoSuchNet-7'" in err and not (tmp_path / "r").exists()


def test_amp_on_cpu_is_bfloat16(tmp_path):
    m = train(cfg(tmp_path / "r", epochs=1, amp=True))
    assert m["amp"] is True and m["amp_dtype"] == "bfloat16" and m["device"] == "cpu"
    assert "AMP (bfloat16)" in (tmp_path / "r" / "train.log").read_text()
    assert math.isfinite(m["val_loss"])


def test_last_batch_of_one_is_dropped_in_training_only(tmp_path, capsys):
    m = train(cfg(tmp_path / "r", epochs=1, batch_size=8, train_size=17, val_size=9))
    assert m["history"][0]["train_images"] == 16 and m["history"][0]["val_images"] == 9
    assert "fewer than one batch" in error(argv(tmp_path / "s", "--train-size", "5"), capsys)


# ---- property-based: the CLI's argument checks -------------------------------------------------------
_BAD_INT = st.one_of(
    st.integers(max_value=0).map(str),
    st.floats(allow_nan=True).map(repr),
    st.text(alphabet="abcxyz-+. _", min_size=1, max_size=6).filter(lambda s: not s.strip().isdigit()),
    st.just(""),
    st.just("nan"),
    st.just("1e3"),
)
_POSITIVE = ["--epochs", "--batch-size", "--limit-train-batches", "--limit-val-batches", "--train-size", "--val-size"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flag=st.sampled_from(_POSITIVE + ["--seed", "--workers"]), value=_BAD_INT)
def test_bad_numeric_flags_property(tmp_path, capsys, flag, value):
    if flag in ("--seed", "--workers") and value.strip() in ("0", "-0", "+0"):
        return  # 0 is a valid seed / worker count
    out = tmp_path / "never"
    args = argv(out)
    args = [a for i, a in enumerate(args) if a != flag and (i == 0 or args[i - 1] != flag)] + [f"{flag}={value}"]
    err = error(args, capsys)
    assert flag in err or "expected one argument" in err
    assert not out.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flag=st.sampled_from(["--batch-size", "--val-size", "--limit-val-batches", "--workers"]), value=_BAD_INT)
def test_bad_numeric_evaluate_flags_property(tmp_path, capsys, flag, value):
    if flag == "--workers" and value.strip() in ("0", "-0", "+0"):
        return
    err = error(["evaluate", "--checkpoint", tmp_path / "none.pt", f"{flag}={value}"], capsys)
    assert flag in err, err


_BAD_SET = {
    "float": st.one_of(
        st.sampled_from(["nan", "inf", "-inf", "x", "", "1e999", "1,2"]),
        st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False).map(repr),
    ),
    "int": st.one_of(st.integers(max_value=0).map(str), st.sampled_from(["1.5", "x", "", "nan", "inf"])),
    "bool": st.text(alphabet="abcxz2", min_size=1, max_size=4).filter(lambda s: s not in ("y", "n")),
    "str": st.text(alphabet="abcxyz", min_size=1, max_size=5),
    "tuple": st.sampled_from(["a,b", "3,2", "0", "-1,4", "1.5", "x"]),
}


def _set_cases():
    from xnet.recipes import FIELD_TYPES

    fields = {k: t for k, t in FIELD_TYPES.items() if k not in ("dataset", "source", "family")}
    # fields whose every value of the type is valid on its own: only bad types can be tested
    kind = {k: ("tuple" if t.startswith("tuple") else t) for k, t in fields.items()}  # step_size=0: refused too
    return st.sampled_from(sorted(kind)).flatmap(lambda k: st.tuples(st.just(k), _BAD_SET[kind[k]]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_set_cases())
def test_bad_set_values_property(tmp_path, capsys, case):
    key, value = case
    err = error(argv(tmp_path / "never", "--set", f"{key}={value}"), capsys)
    assert f"recipe field {key}" in err, err
    assert not (tmp_path / "never").exists()


@settings(max_examples=60, deadline=None)
@given(
    key=st.sampled_from(
        ["epochs", "batch_size", "seed", "limit_val_batches", "workers", "device", "dataset", "set", "amp", "variant"]
    ),
    value=st.one_of(
        st.integers(max_value=-1),
        st.floats(allow_nan=True),
        st.text(alphabet="abc -.", max_size=4),
        st.lists(st.integers(), max_size=2),
    ),
)
def test_train_args_names_the_bad_key_property(key, value):
    from xnet.training.config import train_args

    try:
        args = train_args({key: value})
    except UserError as e:
        msg = str(e)
        assert msg.startswith(f"train option {key!r}") and "\n" not in msg, msg
    else:  # the few valid values (e.g. a dataset-like string never is; an empty list of --set pairs is)
        assert key == "set" and value == [] and args == []
