"""The paper's experiment matrix: which runs each table and figure of the paper needs (torch-free).

One :class:`Experiment` per published table or figure (``table1`` ... ``table5``, ``figure3`` ...
``figure6``): its title, the published file it is compared with (``xnet/published/``) and that
file's key column, the paper's dataset and seeds, and one :class:`Row` per published row: the
row's label as printed in the published file -> the canonical model name of
:func:`xnet.models.create` (and the dataset, where a figure mixes two).

A run is identified by ``(model, dataset, seed)`` with the canonical model name (plus the scale
and the variant, which a configuration fixes for all runs), so a run needed by two tables is
trained once: Table 2's "X-VGG16-1" and Table 4's "X-VGG-1" are both ``X-VGG16-1``; Figure 5 uses
Table 1's runs, Figure 3 Table 5's.

Rows beyond the paper (``Row.extension``, e.g. Table 5's block-expander rows ``XB2`` ... ``XB16``) have
no published number and run only where a configuration names them.

Seeds: Table 4 and Table 2 ten (0-9; the paper prints one run in Table 2, the rerun shows the
mean of Table 4's ten), Table 5 and Figure 3 two (the paper's "2 runs"), everything else one.

A workflow configuration does not restate this matrix: it selects from it
(:func:`select`: all rows and seeds, or some rows / seeds / datasets of some experiments).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

TEN = tuple(range(10))


@dataclass(frozen=True)
class Row:
    """One published row: its label in the published file, the canonical model, the dataset."""

    label: str
    model: str
    dataset: str
    extension: bool = False  # a row beyond the paper's (no published number): selected by its label only


@dataclass(frozen=True, order=True)
class Run:
    """The identity of one training run within a scale and a variant."""

    model: str
    dataset: str
    seed: int


@dataclass(frozen=True)
class Experiment:
    """One table or figure of the paper and the runs it needs."""

    name: str  # table1 ... table5, figure3 ... figure6
    kind: str  # "table" or "figure"
    title: str
    published: str  # file name in xnet/published/
    key: str  # the published file's column that holds a row's label
    dataset: str  # the paper's dataset (default of the rows)
    seeds: tuple[int, ...]
    rows: tuple[Row, ...]
    x: str | None = None  # figures: "macs" or "compression"
    series: str | None = None  # figures: how points form curves ("family", "conv", "depth_growth")
    extensions: tuple[Row, ...] = ()  # rows beyond the paper's, run only where a selection names them

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(r.label for r in self.rows))

    def runs(self) -> list[tuple[Row, int]]:
        """``(row, seed)`` of every run of this experiment, in row order."""
        return [(row, seed) for row in self.rows for seed in self.seeds]

    def run_ids(self) -> list[Run]:
        return [Run(row.model, row.dataset, seed) for row, seed in self.runs()]

    def select(
        self,
        rows: Iterable[str] | None = None,
        seeds: Iterable[int] | None = None,
        datasets: Iterable[str] | None = None,
        where: str = "",
    ) -> Experiment:
        """This experiment restricted to some row labels, seeds and datasets (None: all).

        A label, seed or dataset the experiment does not have raises ``ValueError`` naming
        ``where`` (the configuration key) and the accepted values.
        """
        where = where or self.name
        keep = list(self.rows)
        if rows is not None:
            rows = [str(r) for r in rows]
            known = self.labels + [r.label for r in self.extensions]
            bad = [r for r in rows if r not in known]
            if bad:
                raise ValueError(f"{where}.rows: {self.name} has no row {bad[0]!r} (rows: {', '.join(known)})")
            keep = [r for r in keep + list(self.extensions) if r.label in rows]
        if datasets is not None:
            datasets = list(datasets)
            have = sorted({r.dataset for r in self.rows})
            bad = [d for d in datasets if d not in have]
            if bad:
                raise ValueError(
                    f"{where}.datasets: {self.name} has no dataset {bad[0]!r} (datasets: {', '.join(have)})"
                )
            keep = [r for r in keep if r.dataset in datasets]
        if not keep:
            raise ValueError(f"{where}: the selection leaves no row of {self.name}")
        new_seeds = self.seeds
        if seeds is not None:
            new_seeds = tuple(seeds)
            if not new_seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in new_seeds):
                raise ValueError(f"{where}.seeds: expected a non-empty list of integers >= 0, got {list(seeds)!r}")
        return dataclasses.replace(self, rows=tuple(keep), seeds=new_seeds, extensions=())

    def to_dict(self) -> dict:
        """Plain data (the shape of a configuration's experiment entry)."""
        d = dataclasses.asdict(self)
        d["seeds"] = list(self.seeds)
        d["rows"] = [dataclasses.asdict(r) for r in self.rows]
        d["extensions"] = [dataclasses.asdict(r) for r in self.extensions]
        return d


def _rows(dataset: str, *items) -> tuple[Row, ...]:
    """Rows from ``"model"`` (label = model) or ``("label", "model")`` items."""
    out = []
    for it in items:
        label, model = (it, it) if isinstance(it, str) else it
        out.append(Row(label, model, dataset))
    return tuple(out)


_T1 = (
    "X-ResNet-2-34",
    "X-ResNet-2-50",
    "ResNet-34",
    "X-ResNet-2-101",
    "ResNet-50",
    "ResNet-101",
    "X-DenseNet-BC-2-121",
    "X-DenseNet-BC-2-169",
    "X-DenseNet-BC-2-201",
    "X-DenseNet-BC-2-161",
    "DenseNet-BC-121",
    "DenseNet-BC-169",
    "DenseNet-BC-201",
    "DenseNet-BC-161",
)
_MOBILENET = (("Base", "MobileNet-0.5"),) + tuple(
    (f"{k}{c}", f"{k}-MobileNet-0.5-{c}") for c in (2, 4, 8, 16) for k in "GX"
)
# Beyond the paper: X-MobileNet-0.5-C from block expanders of 16 channels (the CPU block path's graphs;
# docs/real-data.md measures what they cost in accuracy).  Rows "XB2" ... "XB16".
_MOBILENET_BLOCKS = tuple(Row(f"XB{c}", f"X-MobileNet-0.5-{c}-b16", "imagenet", extension=True) for c in (2, 4, 8, 16))
_F4_C10 = tuple(f"DenseNet-BC-40-{g}" for g in (24, 36, 48, 60)) + tuple(
    f"X-DenseNet-BC-40-{g}-2" for g in (24, 36, 48, 60)
)
_F4_C100 = (
    ("DenseNet-BC-100-12", "DenseNet-BC-100-24")
    + tuple(f"DenseNet-BC-40-{g}" for g in (36, 48, 60))
    + tuple(f"X-DenseNet-BC-40-{g}-2" for g in (24, 36, 48, 60))
)
_F6 = (
    "DenseNet-BC-40-60",
    "X-DenseNet-BC-40-60-2",
    "DenseNet-BC-40-100",
    *(f"X-DenseNet-BC-40-100-{c}" for c in (4, 8, 16)),
    "DenseNet-BC-40-200",
    *(f"X-DenseNet-BC-40-200-{c}" for c in (4, 10, 20, 30, 50, 80)),
    "DenseNet-BC-58-60",
    *(f"X-DenseNet-BC-58-60-{c}" for c in (2, 4, 8, 16)),
    "DenseNet-BC-70-60",
    *(f"X-DenseNet-BC-70-60-{c}" for c in (2, 4, 8, 16)),
)

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "table1",
            "table",
            "Table 1: ImageNet top-1 accuracy and FLOPs of ResNet / DenseNet-BC and X-versions",
            "table1_imagenet_resnet_densenet.csv",
            "model",
            "imagenet",
            (0,),
            _rows("imagenet", *_T1),
        ),
        Experiment(
            "table2",
            "table",
            "Table 2: CIFAR-10, VGG16 and X-VGG16 (runs shared with Table 4)",
            "table2_cifar10_vgg16_vs_pruning.csv",
            "method",
            "cifar10",
            TEN,
            _rows("cifar10", "X-VGG16-1", "X-VGG16-2", "VGG16-Orig"),
        ),
        Experiment(
            "table3",
            "table",
            "Table 3: ImageNet, AlexNet and X-AlexNet",
            "table3_imagenet_alexnet_vs_pruning.csv",
            "method",
            "imagenet",
            (0,),
            _rows("imagenet", "X-AlexNet-1", "X-AlexNet-2", "AlexNet-Orig"),
        ),
        Experiment(
            "table4",
            "table",
            "Table 4: accuracy over 10 training runs on CIFAR-10 (mean, std, max, min)",
            "table4_cifar10_stability_10runs.csv",
            "model",
            "cifar10",
            TEN,
            _rows(
                "cifar10",
                ("VGG", "VGG16-Orig"),
                ("X-VGG-1", "X-VGG16-1"),
                ("X-VGG-2", "X-VGG16-2"),
                *((f"XDNetBC-40-{g}", f"X-DenseNet-BC-40-{g}-2") for g in (24, 36, 48, 60)),
            ),
        ),
        Experiment(
            "table5",
            "table",
            "Table 5: MobileNet-0.5 variants on ImageNet, mean and range over 2 runs",
            "table5_imagenet_mobilenet05_2runs.csv",
            "variant",
            "imagenet",
            (0, 1),
            _rows("imagenet", *_MOBILENET),
            extensions=_MOBILENET_BLOCKS,
        ),
        Experiment(
            "figure3",
            "figure",
            "Figure 3: G-Conv vs X-Conv MobileNet-0.5 on ImageNet, top-1 error by compression",
            "figure3_imagenet_mobilenet05_error.csv",
            "compression",
            "imagenet",
            (0, 1),
            _rows("imagenet", *_MOBILENET),
            x="compression",
            series="conv",
            extensions=_MOBILENET_BLOCKS,
        ),
        Experiment(
            "figure4",
            "figure",
            "Figure 4: DenseNet-BC vs X-DenseNet-BC on CIFAR-10 / CIFAR-100, error vs MACs",
            "figure4_cifar_densenet_tradeoff.csv",
            "model",
            "cifar10",
            (0,),
            _rows("cifar10", *_F4_C10) + _rows("cifar100", *_F4_C100),
            x="macs",
            series="family",
        ),
        Experiment(
            "figure5",
            "figure",
            "Figure 5: ResNet / DenseNet-BC vs X-versions on ImageNet, error vs MACs (Table 1's runs)",
            "table1_imagenet_resnet_densenet.csv",
            "model",
            "imagenet",
            (0,),
            _rows("imagenet", *_T1),
            x="macs",
            series="family",
        ),
        Experiment(
            "figure6",
            "figure",
            "Figure 6: wider and deeper (X-)DenseNet-BC on CIFAR-100, error vs MACs",
            "figure6_cifar100_wider_deeper.csv",
            "model",
            "cifar100",
            (0,),
            _rows("cifar100", *_F6),
            x="macs",
            series="depth_growth",
        ),
    )
}


def experiment(name: str) -> Experiment:
    """The experiment called ``name`` (``ValueError`` listing the known names otherwise)."""
    try:
        return EXPERIMENTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown experiment {name!r} (known: {', '.join(EXPERIMENTS)})") from None


def select(selection: str | Mapping | Sequence | None = "all", where: str = "experiments") -> dict[str, Experiment]:
    """The experiments a configuration asks for.

    ``selection`` is ``"all"`` (every experiment, every row, the paper's seeds), a list of
    ``{experiment: name, rows: [labels], seeds: [ints], datasets: [names]}`` (all but
    ``experiment`` optional: all rows, the paper's seeds, every dataset), or a mapping
    ``name -> {rows, seeds, datasets}``.  Anything unknown raises ``ValueError`` naming the
    configuration key (``where``, e.g. ``experiments[2].rows``) and the accepted values.
    """
    if selection is None or selection == "all":
        return dict(EXPERIMENTS)
    if isinstance(selection, Mapping):
        items = [(f"{where}.{name}", name, sel or {}) for name, sel in selection.items()]
    elif isinstance(selection, Sequence) and not isinstance(selection, str):
        items = []
        for i, sel in enumerate(selection):
            if not isinstance(sel, Mapping) or "experiment" not in sel:
                raise ValueError(f"{where}[{i}]: expected a mapping with an 'experiment' key, got {sel!r}")
            items.append((f"{where}[{i}]", sel["experiment"], {k: v for k, v in sel.items() if k != "experiment"}))
    else:
        items = []
    if not items:
        raise ValueError(
            f"{where}: expected 'all' or a list of selections of {', '.join(EXPERIMENTS)}, got {selection!r}"
        )
    out = {}
    for key, name, sel in items:
        if name not in EXPERIMENTS:
            raise ValueError(f"{key}: unknown experiment {name!r} (known: {', '.join(EXPERIMENTS)})")
        if name in out:
            raise ValueError(f"{key}: {name} is selected twice")
        if not isinstance(sel, Mapping):
            raise ValueError(f"{key}: expected a mapping with rows / seeds / datasets, got {sel!r}")
        unknown = set(sel) - {"rows", "seeds", "datasets"}
        if unknown:
            raise ValueError(f"{key}: unknown key {sorted(unknown)[0]!r} (keys: experiment, rows, seeds, datasets)")
        out[name] = EXPERIMENTS[name].select(sel.get("rows"), sel.get("seeds"), sel.get("datasets"), where=key)
    return out


def run_matrix(experiments: Mapping[str, Experiment] | Iterable[Experiment]) -> list[Run]:
    """Sorted unique runs needed by ``experiments`` (a run shared by two experiments: once)."""
    exps = experiments.values() if isinstance(experiments, Mapping) else experiments
    return sorted({run for e in exps for run in e.run_ids()})
