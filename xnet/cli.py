"""Command line: ``xnet train ...`` and ``xnet evaluate ...`` (also ``python -m xnet ...``).

Bad input gives one line on stderr (``xnet: error: ...``) and exit status 2.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys

from .recipes import UserError, parse_overrides


def _model_args(items):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"--model-arg {item!r}: expected key=value")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k.strip()] = v
    return out


def _add_data_args(p):
    p.add_argument("--data-dir", default=None, help="dataset directory (cifar10/cifar100: downloaded here if "
                   "missing; imagenet: holds train/ and val/)")
    p.add_argument("--no-download", dest="download", action="store_false",
                   help="never download CIFAR: fail if it is not in --data-dir")
    p.add_argument("--workers", type=int, default=None, help="data loader workers (default: 0 for in-memory "
                   "datasets, 8 for imagenet)")
    p.add_argument("--val-size", type=int, default=None, help="use only the first N validation images")
    p.add_argument("--limit-val-batches", type=int, default=None, help="evaluate on at most N batches")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="xnet", description="Deep Expander Networks: train and evaluate models.")
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one model on one dataset with one seed into one run directory",
                       description="Train one model; resumes from DIR/checkpoint.pt if present; "
                       "does nothing if DIR/metrics.json shows the run finished.")
    t.add_argument("--model", required=True, help="any name xnet.models.create accepts (e.g. "
                   "X-DenseNet-BC-40-24-2, or a family such as densenet_bc_cifar with --model-arg)")
    t.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="extra keyword argument of xnet.models.create (Python literal), repeatable")
    t.add_argument("--dataset", required=True, help="cifar10, cifar100, imagenet, synthetic-cifar10, "
                   "synthetic-cifar100, synthetic-imagenet")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, metavar="DIR", help="run directory")
    t.add_argument("--epochs", type=int, default=None, help="default: the recipe's; the lr schedule scales")
    t.add_argument("--batch-size", type=int, default=None, help="default: the recipe's (global under DDP)")
    t.add_argument("--limit-train-batches", type=int, default=None, help="train on at most N batches per epoch")
    t.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    t.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="overrides",
                   help="override a recipe field, e.g. --set lr=0.05 --set milestones=10,20 (repeatable)")
    t.add_argument("--amp", dest="amp", action="store_true", default=None, help="mixed precision (default on CUDA)")
    t.add_argument("--no-amp", dest="amp", action="store_false")
    _add_data_args(t)

    e = sub.add_parser("evaluate", help="re-evaluate a saved model",
                       description="Rebuild the model of a training checkpoint and evaluate it.")
    e.add_argument("--checkpoint", required=True, help="checkpoint.pt of a run, or the run directory")
    e.add_argument("--dataset", default=None, help="default: the run's dataset")
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--json", dest="json_out", default=None, metavar="FILE", help="also write the result here")
    _add_data_args(e)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            from .train import TrainConfig, train
            cfg = TrainConfig(
                model=args.model, dataset=args.dataset, out=args.out, seed=args.seed, epochs=args.epochs,
                batch_size=args.batch_size, device=args.device, data_dir=args.data_dir,
                limit_train_batches=args.limit_train_batches, limit_val_batches=args.limit_val_batches,
                overrides=parse_overrides(args.overrides), model_args=_model_args(args.model_arg),
                train_size=args.train_size, val_size=args.val_size, workers=args.workers,
                download=args.download, amp=args.amp, progress=args.progress)
            train(cfg)
        else:
            from .evaluate import evaluate_checkpoint
            res = evaluate_checkpoint(args.checkpoint, dataset=args.dataset, data_dir=args.data_dir,
                                      device=args.device, batch_size=args.batch_size,
                                      limit_val_batches=args.limit_val_batches, val_size=args.val_size,
                                      workers=args.workers, download=args.download, progress=args.progress)
            text = json.dumps(res, indent=2)
            print(text)
            if args.json_out:
                from pathlib import Path
                from .train import atomic_write_json
                atomic_write_json(Path(args.json_out), res)
    except UserError as e:
        print(f"xnet: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xnet: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
