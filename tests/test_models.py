"""xnet.models: every published name builds and runs in both variants, dense models match torchvision,
counts are locked (the `paper` variant's reproduce the published count columns; tests/test_original.py
checks the `original` variant against the authors' logs)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from xnet.counting import count_params, profile
from xnet.models import FAMILIES, create, list_models, resolve
from xnet.nn import XConv2d, XLinear

from conftest import built  # the session-wide model cache (default variant "paper"), shared with test_profile

PUBLISHED = Path(__file__).resolve().parents[1] / "xnet" / "published"


def _csv(name):
    with open(PUBLISHED / name, newline="") as f:
        return list(csv.DictReader(f))


# The names issue 3 lists, and every name printed in a table with a params / FLOPs column.
CORE_NAMES = sorted(
    {
        *(r["model"] for r in _csv("table1_imagenet_resnet_densenet.csv")),
        *(
            r["method"]
            for f in ("table2_cifar10_vgg16_vs_pruning.csv", "table3_imagenet_alexnet_vs_pruning.csv")
            for r in _csv(f)
            if r["kind"] != "pruning"
        ),
        *(r["model"] for r in _csv("readme_cifar_xdensenet.csv")),
        *(r["model"] for r in _csv("readme_imagenet_xmobilenet.csv")),
        *(f"{k}-MobileNet-0.5-{c}" for k in "XG" for c in (2, 4, 8, 16)),
        "MobileNet-0.5",
        "VGG",
        "X-VGG-1",
        "X-VGG-2",
        "DenseNet-BC-40-24",
        "X-DenseNet-BC-40-24-2",
        "X-DenseNet-BC-70-60-16",
    }
)


def _accuracy_only_names():
    names = [
        r["model"]
        for f in (
            "table4_cifar10_stability_10runs.csv",
            "figure4_cifar_densenet_tradeoff.csv",
            "figure6_cifar100_wider_deeper.csv",
        )
        for r in _csv(f)
    ]
    for r in _csv("table5_imagenet_mobilenet05_2runs.csv"):
        c = r["compression"]
        names.append(
            {"dense": "MobileNet-0.5", "grouped": f"G-MobileNet-0.5-{c}", "expander": f"X-MobileNet-0.5-{c}"}[r["kind"]]
        )
    return sorted(set(names) - set(CORE_NAMES))


# Names printed only beside accuracies (Table 4, Figures 4 and 6: CIFAR DenseNet-BC variants of the
# same family) are built and run too: the whole parametrization takes about 30 s on 2 cores.
EXTRA_NAMES = _accuracy_only_names()
ALL_NAMES = CORE_NAMES + EXTRA_NAMES


def test_the_families_are_the_recipe_families():
    families = {r["family"] for r in _csv("recipes.csv")}
    assert families == set(FAMILIES)


def test_list_models_lists_every_published_name_and_the_families():
    from xnet.models.registry import _general_form
    from xnet.models.zoo import PUBLISHED

    names = list_models()
    assert set(ALL_NAMES) | set(FAMILIES) <= set(names) and len(names) == len(set(names))
    assert names.index("X-DenseNet-BC-40-24-2") < names.index("X-DenseNet-BC-40-100-4")  # numbers by value
    assert list_models("X-MobileNet-0.5-*") == [f"X-MobileNet-0.5-{c}" for c in (2, 4, 8, 16)]
    assert list_models(["g-mobilenet*", "*_cifar"]) == [
        "densenet_bc_cifar",
        *(f"G-MobileNet-0.5-{c}" for c in (2, 4, 8, 16)),
        "vgg16_cifar",
    ]
    for key, m in PUBLISHED.items():  # the table agrees with the general forms wherever one applies
        form = _general_form(m.name, key) if not key.startswith(("x-vgg", "x-alexnet")) else None
        assert form is None or form == (m.family, m.kwargs), m.name
    with torch.device("meta"):  # every listed name builds (those ALL_NAMES does not build: here)
        for name in sorted(set(names) - set(ALL_NAMES)):
            assert isinstance(create(name), nn.Module)


@pytest.mark.parametrize("variant", ["original", "paper"])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_published_name_resolves(name, variant):
    spec = resolve(name, variant=variant)
    assert spec.family in FAMILIES and spec.variant == variant
    assert spec.default_dataset == ("cifar10" if spec.family.endswith("cifar") else "imagenet")
    assert spec.input_size == ((3, 32, 32) if spec.default_dataset == "cifar10" else (3, 224, 224))
    facts = spec.facts()
    assert facts["variant"] == variant and facts["family"] == spec.family and facts["dataset"] == spec.default_dataset
    assert facts["conv"] == ("dense" if name[:2] not in ("X-", "G-", "XD") else name[0].lower())


def _small_input(spec):
    """Small inputs that every family accepts (AlexNet needs about 64 pixels, VGG 32)."""
    return {"vgg16_cifar": (1, 3, 32, 32), "densenet_bc_cifar": (1, 3, 8, 8), "alexnet_imagenet": (1, 3, 64, 64)}.get(
        spec.family, (1, 3, 32, 32)
    )


def _key(name):
    spec = resolve(name, variant="original")
    return spec.family, repr(sorted(spec.kwargs.items()))


# tests/test_original.py builds every logged network in the `original` variant (and compares it with its
# log); here run the rest of the published names in that variant, and one logged network per family.
_LOGGED = {_key(e["model"]) for e in json.loads((PUBLISHED / "original_architectures.json").read_text())}
_UNLOGGED = {_key(n): n for n in sorted(ALL_NAMES, reverse=True) if _key(n) not in _LOGGED}  # one name per network
ORIGINAL_RUN = sorted(
    {*_UNLOGGED.values(), "X-DenseNet-BC-40-24-2", "X-DenseNet-BC-2-121", "X-ResNet-2-50", "MobileNet-0.5", "X-VGG16-2"}
)
BUILD_AND_RUN = [(n, "paper") for n in ALL_NAMES] + [(n, "original") for n in ORIGINAL_RUN]


@pytest.mark.parametrize("name, variant", BUILD_AND_RUN)
def test_every_published_name_builds_and_runs(name, variant):
    spec = resolve(name, variant=variant)
    model = built(name, variant).eval()
    with torch.no_grad():
        y = model(torch.randn(_small_input(spec)))
    classes = 10 if spec.default_dataset == "cifar10" else 1000
    assert y.shape == (1, classes) and torch.isfinite(y).all()


@pytest.mark.parametrize(
    "name",
    ["ResNet-50", "X-ResNet-2-50", "X-DenseNet-BC-2-121", "X-MobileNet-0.5-2", "G-MobileNet-0.5-2", "X-AlexNet-1"],
)
def test_imagenet_models_run_at_64_pixels(name):
    with torch.no_grad():
        y = built(name).eval()(torch.randn(2, 3, 64, 64))
    assert y.shape == (2, 1000) and torch.isfinite(y).all()


def test_default_num_classes_follow_the_dataset():
    assert built("X-VGG16-1").classifier[-1].out_features == 10
    assert built("MobileNet-0.5").classifier.out_features == 1000
    assert create("DenseNet-BC-40-24", num_classes=100).classifier.out_features == 100
    assert create("G-MobileNet-0.5-2", num_classes=100)(torch.randn(2, 3, 64, 64)).shape == (2, 100)
    assert create("X-AlexNet-2", num_classes=100, width=0.125).classifier[-1].out_features == 100


@pytest.mark.parametrize("depth", [18, 34, 50, 101])
def test_resnet_matches_torchvision(depth):
    ours = built(f"ResNet-{depth}") if depth != 18 else create("ResNet-18")
    theirs = getattr(torchvision.models, f"resnet{depth}")()
    assert count_params(ours) == count_params(theirs)
    if depth in (18, 50):
        ours = create(f"ResNet-{depth}")
        ours.load_state_dict(theirs.state_dict())  # same layout and parameter names
        x = torch.randn(1, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(ours.eval()(x), theirs.eval()(x))


@pytest.mark.parametrize("depth", [121, 169, 201, 161])
def test_densenet_imagenet_matches_torchvision(depth):
    ours = built(f"DenseNet-BC-{depth}")
    theirs = getattr(torchvision.models, f"densenet{depth}")()
    assert count_params(ours) == count_params(theirs)
    shapes = sorted(tuple(p.shape) for p in ours.parameters())
    assert shapes == sorted(tuple(p.shape) for p in theirs.parameters())


def test_alexnet_and_vgg_match_torchvision():
    assert count_params(built("AlexNet-Orig")) == count_params(torchvision.models.alexnet())
    assert count_params(built("VGG16-Orig").features) == count_params(torchvision.models.vgg16_bn().features)


def test_structured_form_builds_the_named_model():
    a = create("X-DenseNet-BC-40-24-2", seed=3)
    b = create("densenet_bc_cifar", depth=40, growth=24, conv="x", compression=2, seed=3)
    assert repr(a) == repr(b)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa if k.endswith("neighbors"))
    assert (
        resolve("X-DenseNet-BC-40-24-2").kwargs
        == resolve("densenet_bc_cifar", depth=40, growth=24, conv="x", compression=2).kwargs
    )


def test_overrides_make_tiny_variants():
    for name, kw in (
        ("resnet_imagenet", dict(depth=18, width=0.25, conv="x", compression=2)),
        ("X-ResNet-2-50", dict(width=0.125, depth=18)),
        ("mobilenet05_imagenet", dict(width=0.25, conv="g", compression=2)),
        ("X-VGG16-1", dict(width=0.25)),
        ("X-AlexNet-2", dict(width=0.125)),
        ("densenet_bc_imagenet", dict(growth=8, blocks=(1, 1, 1, 1), conv="x", compression=2)),
        ("X-DenseNet-BC-40-24-2", dict(depth=10, growth=6)),
    ):
        m = create(name, num_classes=5, **kw).eval()
        with torch.no_grad():
            x = torch.randn(2, 3, 32, 32) if resolve(name).default_dataset == "cifar10" else torch.randn(2, 3, 64, 64)
            assert m(x).shape == (2, 5)
        assert count_params(m) < 1_000_000


def _x_graphs(model):
    return [m.neighbors for m in model.modules() if isinstance(m, (XConv2d, XLinear))]


def test_seeds_give_distinct_reproducible_graphs():
    a, b, c = (create("X-MobileNet-0.5-4", seed=s, variant="paper") for s in (5, 5, 6))
    assert not torch.equal(_x_graphs(a)[0], _x_graphs(built("X-MobileNet-0.5-4"))[0])  # seed 0
    ga, gb, gc = _x_graphs(a), _x_graphs(b), _x_graphs(c)
    assert len(ga) == 12
    assert all(torch.equal(x, y) for x, y in zip(ga, gb))
    assert not any(torch.equal(x, y) for x, y in zip(ga, gc))
    same_shape = [(x, y) for x, y in zip(ga, ga[1:]) if x.shape == y.shape]
    assert same_shape and not any(torch.equal(x, y) for x, y in same_shape)  # layers differ from each other


def _kinds(modules):
    return ["x" if isinstance(m, (XConv2d, XLinear)) else "d" for m in modules]


def test_x_resnet_compresses_block_convolutions_only():
    m = built("X-ResNet-2-50")
    assert isinstance(m.conv1, nn.Conv2d) and isinstance(m.fc, nn.Linear)
    for blk in m.layer1.modules():
        if hasattr(blk, "conv3"):
            convs = (blk.conv1, blk.conv2, blk.conv3)
            assert all(isinstance(c, XConv2d) and c.degree == c.in_channels // 2 for c in convs)
            if blk.downsample is not None:
                assert type(blk.downsample[0]) is nn.Conv2d


def test_x_densenet_compressed_layers():
    cifar = built("X-DenseNet-BC-40-24-2")
    assert type(cifar.features.conv0) is nn.Conv2d
    assert isinstance(cifar.features.transition1.conv, XConv2d)
    imnet = built("X-DenseNet-BC-2-121")
    assert type(imnet.features.transition1.conv) is nn.Conv2d and type(imnet.features.conv0) is nn.Conv2d
    layer = imnet.features.denseblock1_layer1
    assert isinstance(layer.conv1, XConv2d) and isinstance(layer.conv2, XConv2d)
    assert layer.conv1.degree == 32 and layer.conv2.degree == 64


def test_mobilenet_compresses_all_pointwise_but_the_first():
    x, g = built("X-MobileNet-0.5-4"), built("G-MobileNet-0.5-4")
    pw_x = [m for m in x.features if isinstance(m, (nn.Conv2d, XConv2d)) and m.kernel_size == (1, 1)]
    pw_g = [m for m in g.features if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert _kinds(pw_x) == ["d"] + ["x"] * 12 and pw_x[0].in_channels == 16 and pw_x[0].out_channels == 32
    assert [m.groups for m in pw_g] == [1] + [4] * 12
    assert all(m.degree == m.in_channels // 4 for m in pw_x[1:])


def test_vgg_and_alexnet_degrees():
    v = built("X-VGG16-1")
    convs = [m for m in v.features if isinstance(m, (nn.Conv2d, XConv2d))]
    assert _kinds(convs) == ["d"] + ["x"] * 12 and [c.degree for c in convs[1:3]] == [64 // 9, 64 // 9]
    assert isinstance(v.classifier[1], XLinear) and v.classifier[1].degree == 512 // 9
    a = built("X-AlexNet-1")
    fcs = [m for m in a.classifier if isinstance(m, (nn.Linear, XLinear))]
    assert [m.degree for m in fcs] == [768, 384, 384]
    assert not any(isinstance(m, XConv2d) for m in a.features.modules())


@pytest.mark.parametrize(
    "name",
    [
        "ResNet-35",
        "X-ResNet-2-35",
        "DenseNet-BC-120",
        "X-DenseNet-BC-40-24",
        "X-VGG16-3",
        "X-AlexNet-7",
        "MobileNet-0.75",
        "Y-MobileNet-0.5-2",
        "foo",
        "DenseNet-BC-41-12",
        "X-ResNet-0-50",
        "",
    ],
)
def test_unknown_or_malformed_names_raise(name):
    with pytest.raises(ValueError) as e:
        create(name)
    assert "ResNet" in str(e.value) or "depth" in str(e.value) or "compression" in str(e.value)


def test_error_lists_accepted_names():
    with pytest.raises(ValueError, match="X-DenseNet-BC-<depth>-<growth>-<C>"):
        resolve("ResNeXt-50")
    with pytest.raises(ValueError, match="unknown argument"):
        resolve("resnet_imagenet", growth=3)
    with pytest.raises(ValueError, match="conv"):
        resolve("resnet_imagenet", conv="sparse")
    with pytest.raises(ValueError, match="num_classes"):
        create("MobileNet-0.5", num_classes=0)


# (params, MACs at the paper's input size), counted by xnet.profile; changes here change the paper's tables.
LOCKED = {
    "ResNet-50": (25_557_032, 4_089_184_256),
    "X-ResNet-2-50": (15_218_728, 2_284_453_888),
    "DenseNet-BC-121": (7_978_856, 2_834_161_664),
    "DenseNet-BC-40-24": (690_346, 288_131_664),
    "X-DenseNet-BC-40-24-2": (352_234, 144_730_704),
    "VGG16-Orig": (14_990_922, 313_463_808),
    "X-VGG16-1": (1_657_482, 35_865_600),
    "X-VGG16-2": (1_151_690, 24_226_304),
    "AlexNet-Orig": (61_100_840, 714_188_480),
    "X-AlexNet-1": (7_581_480, 660_669_120),
    "X-AlexNet-2": (9_806_632, 662_894_272),
    "MobileNet-0.5": (1_331_592, 149_497_088),
    "X-MobileNet-0.5-2": (939_400, 85_271_808),
    "G-MobileNet-0.5-4": (743_304, 53_159_168),
}


# The same for the `original` variant (the networks the authors trained; xnet/published/CONVENTIONS.md).
LOCKED_ORIGINAL = {
    "ResNet-50": (25_557_032, 4_089_184_256),
    "X-ResNet-2-50": (13_332_520, 1_976_172_544),
    "X-DenseNet-BC-2-121": (4_888_936, 1_619_501_056),
    "DenseNet-BC-40-24": (690_346, 288_131_664),
    "X-DenseNet-BC-40-24-2": (373_834, 155_789_904),
    "VGG16": (14_990_922, 313_463_808),
    "X-VGG16-1": (1_568_138, 32_769_024),
    "X-VGG16-2": (763_082, 87_069_696),
    "AlexNet-Orig": (61_100_840, 714_188_480),
    "X-AlexNet-1": (5_097_536, 658_175_680),
    "MobileNet-0.5": (2_107_912, 176_502_016),
    "X-MobileNet-0.5-2": (1_584_648, 105_854_208),
    "G-MobileNet-0.5-4": (1_323_016, 70_530_304),
}


@pytest.mark.parametrize("name", sorted(LOCKED))
def test_locked_counts(name):
    c = profile(built(name), resolve(name).input_size)
    assert (c["params"], c["macs"]) == LOCKED[name]


@pytest.mark.parametrize("name", sorted(LOCKED_ORIGINAL))
def test_locked_counts_original(name):
    c = profile(built(name, "original"), resolve(name).input_size)
    assert (c["params"], c["macs"]) == LOCKED_ORIGINAL[name]


def test_facts_are_plain_values():
    import json

    facts = resolve("X-DenseNet-BC-40-24-2", variant="paper").facts(dataset="cifar100")
    assert facts == {
        "name": "X-DenseNet-BC-40-24-2",
        "family": "densenet_bc_cifar",
        "variant": "paper",
        "conv": "x",
        "compression": 2,
        "depth": 40,
        "growth": 24,
        "width": 1.0,
        "dataset": "cifar100",
        "input_size": [3, 32, 32],
    }
    assert json.loads(json.dumps(facts)) == facts
    assert resolve("X-DenseNet-BC-2-161").facts()["growth"] == 48
    assert resolve("X-VGG16-2").facts()["compression"] is None  # explicit per-layer degrees (expandcfg 'D')
    assert resolve("X-VGG16-2", variant="paper").facts()["compression"] == 13
    assert resolve("MobileNet-0.5").facts()["width"] == 0.5 and resolve("VGG16").facts()["depth"] == 16


@pytest.mark.parametrize(
    "name, overrides, b",
    [
        ("X-MobileNet-0.5-4", dict(width=0.25), 16),
        ("X-ResNet-2-50", dict(width=0.25, depth=18), 16),
        ("X-DenseNet-BC-40-24-2", dict(depth=10), 8),
        ("X-AlexNet-1", dict(width=0.125, degrees=(96, 48, 8)), 16),
    ],
)
def test_block_size_builds_block_expanders(name, overrides, b):
    # create(..., block_size=b): every X-layer a block expander with blocks of gcd(b, in, out, degree)
    # channels (channel-level where that is 1); the same parameters, MACs and layer shapes as the
    # paper's channel-level model, and the graphs travel in the state_dict
    import math

    model = create(name, seed=3, block_size=b, variant="paper", **overrides)
    paper = create(name, seed=3, variant="paper", **overrides)
    xs = [m for m in model.modules() if isinstance(m, (XConv2d, XLinear))]
    assert xs and any(m.block_size > 1 for m in xs)
    for m in xs:
        n_out = m.out_channels if isinstance(m, XConv2d) else m.out_features
        expect = math.gcd(math.gcd(b, m.num_inputs), math.gcd(n_out, m.degree))
        assert m.block_size == (expect if expect > 1 else 1)
    size = (3, 32, 32) if resolve(name).input_size[1] == 32 else (3, 64, 64)  # ImageNet models at 64x64
    assert profile(model, size) == profile(paper, size)
    assert [p.shape for p in model.parameters()] == [p.shape for p in paper.parameters()]
    x = torch.randn(2, *size)
    model.eval()
    # another seed, channel-level: the checkpoint wins
    reloaded = create(name, seed=99, variant="paper", **overrides).eval()
    reloaded.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x), model(x))
    assert all(
        r.block_size == m.block_size
        for r, m in zip((m for m in reloaded.modules() if isinstance(m, (XConv2d, XLinear))), xs)
    )


def test_block_size_errors():
    with pytest.raises(ValueError, match="^block_size: only X-models"):
        create("G-MobileNet-0.5-4", block_size=8, variant="paper")
    with pytest.raises(ValueError, match="^block_size: must be a positive integer"):
        create("X-MobileNet-0.5-4", block_size=0, variant="paper")


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("X-ResNet-4-50", dict(width=0.25, depth=18, block_size=16, variant="paper")),
        ("X-MobileNet-0.5-4", dict(width=0.25, variant="paper")),
        ("X-MobileNet-0.5-4", dict(width=0.25, variant="original")),
    ],
)
def test_channels_last_gives_the_same_network(name, overrides):
    # the trainer runs CUDA models in channels_last: X-layers (block and channel-level backends)
    # must give the same outputs and gradients in either memory format
    torch.manual_seed(0)
    a = create(name, seed=1, **overrides)
    b = create(name, seed=1, **overrides).to(memory_format=torch.channels_last)
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()  # batch statistics of 2 samples would amplify rounding ~1% through the network
    x = torch.randn(2, 3, 64, 64)
    ya, yb = a(x), b(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(yb, ya, rtol=1e-4, atol=1e-4)
    ya.square().sum().backward()
    yb.square().sum().backward()
    for (n, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pb.grad, pa.grad, rtol=1e-3, atol=1e-3 * float(pa.grad.abs().max()), msg=n)


@pytest.mark.parametrize(
    "name,kwargs,message",
    [
        ("densenet_bc_cifar", {"depth": 10, "growth": 4, "reduction": 0}, "reduction: must be in"),
        ("densenet_bc_cifar", {"depth": 10, "growth": 4, "reduction": 1.5}, "reduction: must be in"),
        ("densenet_bc_imagenet", {"growth": 4, "blocks": (1, 1), "bn_size": 0}, "bn_size: must be a positive integer"),
        ("MobileNet-0.5", {"width": 0}, "width: must be a positive finite number"),
        ("ResNet-18", {"width": -1}, "width: must be a positive finite number"),
        ("VGG16", {"width": float("nan")}, "width: must be a positive finite number"),
        ("AlexNet", {"width": float("inf")}, "width: must be a positive finite number"),
    ],
)
def test_bad_shape_arguments_are_refused_with_one_line(name, kwargs, message):
    with pytest.raises(ValueError, match=message) as e:
        create(name, **kwargs)
    assert "\n" not in str(e.value)


def test_block_suffix_builds_the_x_model_from_block_expanders():
    from xnet.nn import XConv2d

    spec = resolve("X-MobileNet-0.5-4-b16")
    assert spec.kwargs["block_size"] == 16 and spec.family == "mobilenet05_imagenet" and spec.variant == "original"
    block, plain = create("X-MobileNet-0.5-4-b16", num_classes=10), create("X-MobileNet-0.5-4", num_classes=10)
    xs = [m for m in block.modules() if isinstance(m, XConv2d)]
    assert xs and all(m.graph.block_size > 1 for m in xs)  # every X-layer from blocks (gcd with its shape)
    assert count_params(block) == count_params(plain)  # same density 1/C
    # original: only the X-layers' graphs differ from the authors' network (same stem, ReLU6, widths)
    shapes = lambda m: [tuple(p.shape) for n, p in m.named_parameters() if "features" in n]
    assert [type(m).__name__ for m in block.features] == [type(m).__name__ for m in plain.features]
    assert len(shapes(block)) == len(shapes(plain))
    with pytest.raises(ValueError, match="unknown model 'G-MobileNet-0.5-4-b16'"):
        create("G-MobileNet-0.5-4-b16")  # the suffix is for X-models only
    with pytest.raises(ValueError, match="original variant"):
        create("X-ResNet-2-50-b16")  # other families keep the authors' graphs in original


def test_original_grouped_and_depthwise_convs_use_torch_031_init():
    """PyTorch 0.3.1 drew conv weights from uniform(+-1/sqrt(in * k * k)), ignoring groups."""
    import math

    from torch import nn

    torch.manual_seed(0)
    g = create("G-MobileNet-0.5-4", num_classes=10)
    grouped = [m for m in g.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert any(m.groups == m.in_channels for m in grouped) and any(m.groups == 4 for m in grouped)
    for m in grouped:
        bound = 1 / math.sqrt(m.in_channels * m.kernel_size[0] * m.kernel_size[1])
        w = m.weight.detach().abs().max().item()
        assert bound * 0.8 < w <= bound  # today's default would reach sqrt(groups) times further
    torch.manual_seed(0)
    p = create("G-MobileNet-0.5-4", num_classes=10, variant="paper")
    dw = next(m for m in p.modules() if isinstance(m, nn.Conv2d) and m.groups == m.in_channels and m.groups > 1)
    assert dw.weight.abs().max().item() > 1 / math.sqrt(dw.in_channels * 9) * 2  # paper: today's default


def test_mobilenet_stem_stride():
    from xnet.counting import profile

    one = create("MobileNet-0.5", num_classes=10, stem_stride=1)
    two = create("MobileNet-0.5", num_classes=10)
    assert one.features[0].stride == (1, 1) and two.features[0].stride == (2, 2)
    assert profile(one, (3, 32, 32))["macs"] > 3.5 * profile(two, (3, 32, 32))["macs"]
    with pytest.raises(ValueError, match="stem_stride"):
        create("MobileNet-0.5", stem_stride=3)
