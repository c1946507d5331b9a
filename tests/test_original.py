"""The `original` variant is the network the authors trained: every logged network equals its build.

xnet/published/original_architectures.json holds, per training log of the authors (all 48), the
layers PyTorch printed (tools/extract_original_architectures.py); each is compared with
``create(model, variant="original")``: every dense convolution, batch norm, linear layer and max
pooling in order, which convolutions / linears are X, ReLU6 and dropout.
"""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from xnet.models import create, resolve
from xnet.nn import XConv2d, XLinear

LOGS = json.loads((Path(__file__).resolve().parents[1] / "xnet/published/original_architectures.json").read_text())
BY_LOG = {e["log"]: e for e in LOGS}


@functools.cache
def original(name, num_classes, seed=0):
    return create(name, num_classes=num_classes, seed=seed, variant="original")


def architecture(model: nn.Module) -> dict:
    """The same record as the JSON's, read off a built model (module order)."""
    arch = {"convs": [], "batchnorms": [], "linears": [], "maxpools": [], "relu6": 0, "dropout": 0}
    for m in model.modules():
        if isinstance(m, XConv2d):
            arch["convs"].append("X")
        elif isinstance(m, nn.Conv2d):
            arch["convs"].append(
                {
                    "in": m.in_channels,
                    "out": m.out_channels,
                    "kernel": list(m.kernel_size),
                    "stride": list(m.stride),
                    "padding": list(m.padding),
                    "groups": m.groups,
                    "bias": m.bias is not None,
                }
            )
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            arch["batchnorms"].append({"dim": 1 if isinstance(m, nn.BatchNorm1d) else 2, "features": m.num_features})
        elif isinstance(m, XLinear):
            arch["linears"].append("X")
        elif isinstance(m, nn.Linear):
            arch["linears"].append({"in": m.in_features, "out": m.out_features, "bias": m.bias is not None})
        elif isinstance(m, nn.MaxPool2d):
            pair = lambda v: list(v) if isinstance(v, tuple) else [v, v]  # noqa: E731
            arch["maxpools"].append(
                {"kernel": pair(m.kernel_size), "stride": pair(m.stride), "padding": pair(m.padding)}
            )
        elif isinstance(m, nn.ReLU6):
            arch["relu6"] += 1
        elif isinstance(m, nn.Dropout) and m.p > 0:
            arch["dropout"] += 1
    return arch


def test_the_data_covers_all_48_logs_with_their_options():
    assert len(LOGS) == len(BY_LOG) == 48
    assert len({(e["model"], e["num_classes"]) for e in LOGS}) == 47  # X-DenseNet-BC-2-121 twice (nov12, nov13)
    for e in LOGS:
        o = e["options"]
        assert e["num_classes"] == o["nclasses"]
        if m := re.fullmatch(r"X?-?DenseNet-BC-(\d+)-(\d+)(-(\d+))?", e["model"]):
            if o["model_def"].endswith("_cifar"):  # CIFAR names carry depth and growth, file names may not (52 -> 58)
                assert (int(m[1]), int(m[2])) == (o["layers"], o["growth"]), e["log"]
                assert m[4] is None or int(m[4]) == o["expandSize"], e["log"]
    assert BY_LOG["densenetexpanderbc2wide_cifar100_52_60_expandSize2.txt"]["model"] == "X-DenseNet-BC-58-60-2"


@pytest.mark.parametrize("log", sorted(BY_LOG))
def test_logged_network_equals_its_original_build(log):
    entry = BY_LOG[log]
    model = original(entry["model"], entry["num_classes"])
    built = architecture(model)
    for key in ("convs", "batchnorms", "linears", "maxpools", "relu6", "dropout"):
        assert built[key] == entry[key], f"{log}: {key} differ"
    assert sum(c == "X" for c in built["convs"]) == sum(c == "X" for c in entry["convs"])
    assert "variant='original'" in repr(model).splitlines()[1]


def _rule_layers(model):
    return [m for m in model.modules() if isinstance(m, (XConv2d, XLinear))]


@pytest.mark.parametrize(
    "name, classes, c, sides",
    [
        ("X-DenseNet-BC-40-24-2", 10, 2, {"input", "output"}),
        ("X-DenseNet-BC-40-100-16", 100, 16, {"input", "output"}),
        ("X-DenseNet-BC-2-121", 1000, 2, {"input", "output"}),
        ("X-ResNet-2-50", 1000, 2, {"input", "output"}),
        ("X-ResNet-2-34", 1000, 2, {"input"}),
    ],
)  # ResNet-34's basic blocks never shrink: every layer input-regular
def test_x_layers_follow_the_authors_rule(name, classes, c, sides):
    # expandergraphlayer.py:139-148: degree in // C; output-regular when in > out, else every input draws D outputs
    xs = _rule_layers(original(name, classes))
    assert xs
    seen = set()
    for m in xs:
        g, n_in, n_out = m.graph, m.in_channels, m.out_channels
        assert g.degree == n_in // c, (name, n_in, n_out)
        seen.add(g.side)
        if n_in > n_out:
            assert g.side == "output" and bool((g.output_degrees() == n_in // c).all())
        else:
            assert g.side == "input" and bool((g.input_degrees() == n_in // c).all())
    assert seen == sides


def test_resnet50_bottleneck_conv3_keeps_an_eighth():
    conv3 = original("X-ResNet-2-50", 1000).layer1[0].conv3  # 64 -> 256 at C = 2
    assert conv3.graph.density == pytest.approx(1 / 8)


@pytest.mark.parametrize("kind", ["X", "G"])
@pytest.mark.parametrize("c", [2, 16])
def test_unlogged_x_and_g_mobilenet_are_the_logged_network_with_compressed_pointwise(kind, c):
    # no log: mobilenet.py:39-47 with gtype 'expander' (degree out // C) or 'groups' (groups C) in blocks 2-13
    logged = BY_LOG["mobilenet_imagenet_reproduction_0.5.txt"]
    model = original(f"{kind}-MobileNet-0.5-{c}", 1000)
    arch = architecture(model)
    pointwise = [i for i, cv in enumerate(logged["convs"]) if cv["kernel"] == [1, 1]]
    assert len(pointwise) == 13
    for i, (want, got) in enumerate(zip(logged["convs"], arch["convs"])):
        if i in pointwise[1:]:
            assert got == "X" if kind == "X" else got == {**want, "groups": c}
        else:
            assert got == want
    for key in ("batchnorms", "linears", "relu6", "dropout"):
        assert arch[key] == logged[key]
    if kind == "X":
        for m in _rule_layers(model):
            assert m.graph.side == "input" and m.graph.degree == m.out_channels // c
            assert m.graph.density == pytest.approx(1 / c)


def test_x_alexnet_is_the_released_code_and_vgg_has_no_dropout():
    for name in ("X-AlexNet-1", "X-AlexNet-2"):  # alexnetexpander1.py == alexnetexpander2.py
        arch = architecture(original(name, 1000))
        assert arch["linears"] == ["X", "X", "X"] and arch["dropout"] == 0
        assert [b["dim"] for b in arch["batchnorms"]] == [2] * 5 + [1] * 2
        assert all(cv["bias"] for cv in arch["convs"]) and len(arch["convs"]) == 5
        fc = [m for m in original(name, 1000).classifier if isinstance(m, XLinear)]
        assert [m.graph.degree for m in fc] == [256, 256, 512] and all(m.bias is None for m in fc)
    assert architecture(original("AlexNet", 1000))["dropout"] == 2  # alexnet.py: dense AlexNet as torchvision
    assert architecture(create("VGG16", variant="paper"))["dropout"] == 2  # the paper variant keeps its dropout


def test_x_vgg16_1_has_no_log_and_follows_the_authors_conventions():
    arch = architecture(original("X-VGG16-1", 10))
    assert arch["dropout"] == 0 and arch["convs"][0]["in"] == 3 and arch["convs"].count("X") == 12
    assert arch["linears"][0] == "X" and arch["linears"][1] == {"in": 512, "out": 10, "bias": True}


def test_cifar_transitions_follow_the_logs_and_the_unlogged_row():
    def x_transitions(name):
        m = original(name, 100)
        return [isinstance(t.conv, XConv2d) for n, t in m.features.named_children() if n.startswith("transition")]

    assert x_transitions("X-DenseNet-BC-40-24-2") == [False, False]
    assert x_transitions("X-DenseNet-BC-70-60-16") == [False, False]
    assert x_transitions("X-DenseNet-BC-70-60-8") == [True, True]
    assert x_transitions("X-DenseNet-BC-40-48-2") == [True, True]  # CIFAR-100 row without a log: as its CIFAR-10 log
    assert create("X-DenseNet-BC-40-24-2", variant="paper").features.transition1.conv.__class__ is XConv2d


def _std(t):
    return float(t.detach().float().std())


def test_original_initialisation():
    # X-Conv: Kaiming fan-out of the dense shape (expandergraphlayer.py:135)
    resnet = original("X-ResNet-2-50", 1000)
    conv2 = resnet.layer4[0].conv2  # 512 -> 512, 3x3
    assert _std(conv2.weight) == pytest.approx(math.sqrt(2 / (9 * 512)), rel=0.1)
    assert conv2.bias is None and float(resnet.bn1.weight.detach().min()) == 1.0
    # X-Linear: Kaiming fan-in over all inputs (expandergraphlayer.py:75)
    fc6 = next(m for m in original("X-AlexNet-1", 1000).classifier if isinstance(m, XLinear))
    assert _std(fc6.weight) == pytest.approx(math.sqrt(2 / 9216), rel=0.1)
    # dense CIFAR DenseNet / VGG convolutions: normal(0, sqrt(2 / (k * k * out))), zero conv bias
    dn = original("DenseNet-BC-40-24", 10)
    assert _std(dn.features.transition2.conv.weight) == pytest.approx(math.sqrt(2 / 120), rel=0.1)
    assert float(dn.classifier.bias.detach().abs().max()) == 0.0
    vgg = original("VGG16", 10)
    assert _std(vgg.features[-4].weight) == pytest.approx(math.sqrt(2 / (9 * 512)), rel=0.1)
    assert float(vgg.features[0].bias.detach().abs().max()) == 0.0
    # models without an init loop got PyTorch 0.3's batch norm default: weight uniform(0, 1)
    bn = [m.weight for m in original("MobileNet-0.5", 1000).modules() if isinstance(m, nn.BatchNorm2d)]
    w = torch.cat([b.detach() for b in bn])
    assert 0 <= float(w.min()) and float(w.max()) <= 1 and abs(float(w.mean()) - 0.5) < 0.05


def test_variant_shows_in_spec_and_repr():
    for v in ("original", "paper"):
        spec = resolve("X-MobileNet-0.5-4", variant=v)
        assert spec.variant == v and spec.facts()["variant"] == v
        assert f"variant='{v}'" in repr(create("X-MobileNet-0.5-4", variant=v, width=0.25))
    assert resolve("ResNet-50").variant == "original"
    with pytest.raises(ValueError, match="^variant: must be one of original, paper"):
        resolve("ResNet-50", variant="authors")
    with pytest.raises(ValueError, match="^block_size: .*original variant"):
        create("X-ResNet-2-50", block_size=8)
