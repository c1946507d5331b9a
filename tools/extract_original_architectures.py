"""Extract the layer lists of the authors' printed models into xnet/published/original_architectures.json.

Usage: ``python tools/extract_original_architectures.py LOG_DIR [OUT]`` with LOG_DIR the ``logs/``
folder of the authors' repository (one file per training run: a ``Namespace(...)`` option line,
then the model as PyTorch 0.3 printed it).  The output is committed data; nothing in the package
or its tests reads LOG_DIR.

For every log the JSON entry holds the log's file name, the options that define the network and,
in module order: every convolution (dense ones with in, out, kernel, stride, padding, groups, bias;
``ExpanderConv2d`` as ``"X"``: PyTorch printed no arguments for it), every batch norm (dimension,
features), every linear layer (dense: in, out, bias; ``ExpanderLinear`` as ``"X"``), every max
pooling (kernel, stride, padding), and the counts of ReLU6 and Dropout modules.

PyTorch 0.3 omitted defaults from a module's repr: a Conv2d without ``bias=False`` has a bias and
one without ``padding=`` has padding 0; ``Linear (a -> b)`` has a bias (every nn.Linear of the
authors' code keeps the default ``bias=True``).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

OPTIONS = (
    "model_def",
    "dataset",
    "nclasses",
    "layers",
    "growth",
    "expandSize",
    "reduce",
    "bottleneck",
    "droprate",
    "widthmult",
    "grouptype",
    "sp",
)
LEAF = re.compile(r"^\s*\(([^)]*)\):\s*([A-Za-z0-9_]+)\s*\((.*)\)\s*$")
OPEN = re.compile(r"^\s*\(([^)]*)\):\s*([A-Za-z0-9_]+)\s*\(\s*$")


def _options(line: str) -> dict:
    """The Namespace(...) line as a dict (its values are Python literals)."""
    call = ast.parse(line.strip(), mode="eval").body
    every = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    return {k: every[k] for k in OPTIONS if k in every}


def _pair(args: str, key: str, default):
    m = re.search(key + r"=\((\d+), (\d+)\)", args) or re.search(key + r"=(\d+)", args)
    if not m:
        return list(default)
    vals = [int(v) for v in m.groups()]
    return vals * 2 if len(vals) == 1 else vals


def _conv(args: str) -> dict:
    c_in, c_out = (int(v) for v in re.match(r"\s*(\d+), (\d+)", args).groups())
    groups = re.search(r"groups=(\d+)", args)
    return {
        "in": c_in,
        "out": c_out,
        "kernel": _pair(args, "kernel_size", (1, 1)),
        "stride": _pair(args, "stride", (1, 1)),
        "padding": _pair(args, "padding", (0, 0)),
        "groups": int(groups[1]) if groups else 1,
        "bias": "bias=False" not in args,
    }


def _linear(args: str) -> dict:
    m = re.match(r"\s*(\d+) -> (\d+)", args) or re.match(r"\s*in_features=(\d+), out_features=(\d+)", args)
    return {"in": int(m[1]), "out": int(m[2]), "bias": "bias=False" not in args}


def published_name(o: dict) -> str:
    """The xnet.models name of the network a log trained, from its options (not its file name:
    ``..._52_60_...`` logs have ``layers=58``)."""
    d = o["model_def"]
    if d == "densenet_cifar":
        return f"DenseNet-BC-{o['layers']}-{o['growth']}"
    if d == "densenetexpander2_cifar":
        return f"X-DenseNet-BC-{o['layers']}-{o['growth']}-{o['expandSize']}"
    if m := re.fullmatch(r"densenetexpander(\d+)", d):
        return f"X-DenseNet-BC-{o['expandSize']}-{m[1]}"
    if m := re.fullmatch(r"resnet(\d+)", d):
        return f"ResNet-{m[1]}"
    if m := re.fullmatch(r"resnetexpander(\d+)", d):
        return f"X-ResNet-{o['expandSize']}-{m[1]}"
    if d == "mobilenet" and o.get("grouptype") == "full" and o.get("widthmult") == 0.5:
        return "MobileNet-0.5"
    if d == "vgg16cifar_bn":
        return "VGG16"
    if d == "vgg16cifar_bnexpander":
        return "X-VGG16-2"  # expandcfg['D']: the X-VGG16-2 / X-VGG-2 row (CONVENTIONS.md)
    raise ValueError(f"no published name for model_def={d!r}")


def parse(path: Path) -> dict:
    lines = path.read_text().splitlines()
    options = _options(lines[0])
    entry = {
        "log": path.name,
        "model": published_name(options),
        "num_classes": options["nclasses"],
        "options": options,
        "convs": [],
        "batchnorms": [],
        "linears": [],
        "maxpools": [],
        "relu6": 0,
        "dropout": 0,
    }
    for line in lines[1:]:
        m = LEAF.match(line)
        if m:
            kind, args = m[2], m[3]
        elif (m := OPEN.match(line)) and m[2] in ("ExpanderConv2d", "ExpanderLinear"):
            kind, args = m[2], ""
        else:
            continue
        if kind == "Conv2d":
            entry["convs"].append(_conv(args))
        elif kind == "ExpanderConv2d":
            entry["convs"].append("X")
        elif kind in ("BatchNorm1d", "BatchNorm2d"):
            entry["batchnorms"].append({"dim": int(kind[-2]), "features": int(re.match(r"\s*(\d+)", args)[1])})
        elif kind == "Linear":
            entry["linears"].append(_linear(args))
        elif kind == "ExpanderLinear":
            entry["linears"].append("X")
        elif kind == "MaxPool2d":
            key = "size" if "size=" in args and "kernel_size" not in args else "kernel_size"
            entry["maxpools"].append(
                {
                    "kernel": _pair(args, key, (1, 1)),
                    "stride": _pair(args, "stride", (1, 1)),
                    "padding": _pair(args, "padding", (0, 0)),
                }
            )
        elif kind == "ReLU6":
            entry["relu6"] += 1
        elif kind == "Dropout":
            entry["dropout"] += 1
    return entry


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        sys.exit("usage: python tools/extract_original_architectures.py LOG_DIR [OUT]")
    logs = sorted(Path(argv[0]).glob("*.txt"))
    default = Path(__file__).resolve().parents[1] / "xnet/published/original_architectures.json"
    out = Path(argv[1]) if len(argv) > 1 else default
    entries = [parse(p) for p in logs]
    # one log per line block: small diffs when a log is added
    text = "[\n" + ",\n".join(json.dumps(e, separators=(",", ":")) for e in entries) + "\n]\n"
    out.write_text(text)
    print(f"{len(entries)} logs -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
