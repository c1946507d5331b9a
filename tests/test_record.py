"""The run record (metrics.json): schema, strict JSON, atomic write, one-line errors naming file and field."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xnet.errors import RecordError
from xnet.runs.record import (
    PAPER_DATASETS,
    RECORD_FORMAT,
    RUN_RECORD_SCHEMA,
    RunRecord,
    record_problems,
    validate_record,
)

ROOT = Path(__file__).resolve().parents[1]


def sample(**over) -> dict:
    hist = [
        {
            "epoch": e,
            "lr": 0.1 / e,
            "train_loss": 2.0 / e,
            "train_top1_err": 80.0 / e,
            "val_loss": 2.1 / e,
            "val_top1_err": v,
            "val_top5_err": v / 3,
            "train_images": 64,
            "val_images": 32,
            "time_s": 1.5,
        }
        for e, v in ((1, 70.0), (2, 55.0), (3, 60.0))
    ]
    d = {
        "format": RECORD_FORMAT,
        "model": "X-DenseNet-BC-40-24-2",
        "family": "densenet_bc_cifar",
        "conv": "x",
        "compression": 2,
        "depth": 40,
        "growth": 24,
        "width": None,
        "variant": "original",
        "model_args": {},
        "dataset": "synthetic-cifar10",
        "seed": 3,
        "num_classes": 10,
        "input_size": [3, 32, 32],
        "recipe": {"lr": 0.1, "epochs": 300},
        "epochs": 3,
        "batch_size": 16,
        "limit_train_batches": 4,
        "limit_val_batches": None,
        "train_size": 96,
        "val_size": 48,
        "top1_err": 60.0,
        "top5_err": 20.0,
        "best_top1_err": 55.0,
        "best_top5_err": 55.0 / 3,
        "best_epoch": 2,
        "val_loss": 0.7,
        "train_loss": 0.66,
        "history": hist,
        "params": 5000,
        "macs": 700000,
        "device": "cpu",
        "device_info": {"type": "cpu", "name": "x86_64", "threads": 1},
        "world_size": 1,
        "amp": False,
        "amp_dtype": None,
        "channels_last": False,
        "versions": {"torch": "2.14.1", "xnet": "0.1.0"},
        "wall_time_s": 4.5,
        "config": {"seed": 3},
    }
    d.update(over)
    return d


def test_round_trip_and_strict_json(tmp_path):
    r = RunRecord.from_dict(sample())
    assert r.paper_dataset == "cifar10" and r.synthetic
    assert r.to_dict() == sample()
    path = tmp_path / "metrics.json"
    r.write(path)
    text = path.read_text()
    assert json.loads(text) == sample() and "NaN" not in text
    assert RunRecord.load(path) == r
    assert sorted(os.listdir(tmp_path)) == ["metrics.json"]  # no temporary file left
    row = r.row()
    assert row["top1_err"] == 60.0 and row["paper_dataset"] == "cifar10" and "history" not in row


def test_schema_lists_every_field():
    assert set(RUN_RECORD_SCHEMA["properties"]) == set(RunRecord.__dataclass_fields__)
    assert set(RUN_RECORD_SCHEMA["required"]) == set(sample())


def test_schema_is_generated_from_the_dataclass():
    # a field is one line of RunRecord: its schema beside it, optional (absent from older records) iff None by default
    import dataclasses

    for f in dataclasses.fields(RunRecord):
        assert RUN_RECORD_SCHEMA["properties"][f.name] is f.metadata["schema"]
        assert (f.name in RUN_RECORD_SCHEMA["required"]) == (f.default is not None), f.name
    assert list(RUN_RECORD_SCHEMA["properties"])[0] == "format"  # first in metrics.json


def test_agrees_with_jsonschema():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(RUN_RECORD_SCHEMA)
    v = jsonschema.Draft202012Validator(RUN_RECORD_SCHEMA)
    assert not list(v.iter_errors(sample()))
    for bad in (sample(conv="y"), sample(top1_err=101.0), sample(seed="3"), sample(extra=1), sample(depth=0)):
        assert list(v.iter_errors(bad)) and record_problems(bad)


@pytest.mark.parametrize(
    "over,fragment",
    [
        (dict(top1_err=float("nan")), "top1_err: must be a finite number"),
        (dict(val_loss=float("inf")), "val_loss: must be a finite number"),
        (dict(variant="weird"), "variant: must be one of original, paper"),
        (dict(dataset="mnist"), "dataset: must be one of"),
        (dict(top5_err=-1.0), "top5_err: must be >= 0"),
        (dict(epochs=True), "epochs: must be integer"),
        (dict(colour="red"), "colour: unknown field"),
        (dict(best_epoch=7), "best_epoch: must be an epoch of history"),
        (dict(epochs=5), "history: has 3 epochs but epochs is 5"),
        (dict(recipe={"lr": float("nan")}), "recipe.lr: must be a finite number"),
    ],
)
def test_invalid_field_is_named(over, fragment):
    with pytest.raises(RecordError, match="^some/metrics.json: invalid run record: ") as e:
        validate_record(sample(**over), "some/metrics.json")
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_history_entry_field_is_named():
    d = sample()
    d["history"][1]["val_loss"] = float("nan")
    del d["history"][2]["lr"]
    msg = "; ".join(record_problems(d))
    assert "history[1].val_loss: must be a finite number" in msg and "history[2].lr: missing" in msg


def test_write_refuses_nan_and_keeps_old_file(tmp_path):
    path = tmp_path / "metrics.json"
    RunRecord.from_dict(sample()).write(path)
    before = path.read_bytes()
    bad = RunRecord.from_dict(sample())
    bad.val_loss = float("nan")
    with pytest.raises(RecordError, match="val_loss: must be a finite number"):
        bad.write(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "content,fragment",
    [
        (None, "run record not found"),
        ("{broken", "corrupt run record (not strict JSON"),
        (json.dumps(sample())[:-1] + ', "x": NaN}', "corrupt run record (not strict JSON: NaN"),
        (json.dumps(sample(top1_err=200.0)), "invalid run record: top1_err: must be <= 100"),
        (json.dumps({k: v for k, v in sample().items() if k != "seed"}), "invalid run record: seed: missing"),
        (json.dumps(sample(format=99)), "run record format 99"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_load_errors_name_the_file(tmp_path, content, fragment):
    path = tmp_path / "run" / "metrics.json"
    if content is not None:
        path.parent.mkdir()
        path.write_text(content)
    with pytest.raises(RecordError) as e:
        RunRecord.load(path)
    msg = str(e.value)
    assert msg.startswith(str(path)) and fragment in msg and "\n" not in msg, msg


def test_paper_datasets_match_the_catalog():
    from xnet.data.catalog import DATASETS

    assert PAPER_DATASETS == {k: v.stands_for for k, v in DATASETS.items()}


_NO_TORCH = "import sys; sys.modules['torch'] = None; sys.modules['numpy'] = None\n"


def test_record_module_imports_without_torch():
    # the modules of the record import no torch (the package's __init__ is bypassed here: see the next test)
    code = _NO_TORCH + (
        "import types; pkg = types.ModuleType('xnet'); pkg.__path__ = [sys.argv[1]]; sys.modules['xnet'] = pkg\n"
        "from xnet.runs.record import RunRecord; import xnet.training.config, xnet.runs.files\n"
        "print('ok')"
    )
    p = subprocess.run([sys.executable, "-c", code, str(ROOT / "xnet")], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]


def test_import_xnet_results_record_without_torch():
    p = subprocess.run(
        [sys.executable, "-c", _NO_TORCH + "import xnet.runs.record\nassert 'jsonschema' not in sys.modules"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert p.returncode == 0, p.stderr[-2000:]


def test_nan_literal_is_not_finite_in_problems():
    assert record_problems(sample(wall_time_s=math.inf))
