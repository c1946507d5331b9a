"""Command line: ``xnet train ...`` and ``xnet evaluate ...`` (also ``python -m xnet ...``).

The flags come from the fields of :class:`~xnet.training.config.TrainConfig` and
:class:`~xnet.training.config.EvaluateConfig` (one source).  Bad input gives one line on stderr
(``xnet: error: ...``) and exit status 2, never a traceback; an interrupt exits with 130.

The other entry points (``python -m xnet.graphs``, ``xnet.profile``, ``xnet.results``) get the
same one-line errors from :mod:`xnet.arguments`.  Torch-free.
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import UserError, one_line
from .training.config import EvaluateConfig, TrainConfig, add_arguments, config_from_args


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (``xnet: error: ...``), exit status 2."""

    def error(self, message):
        sub = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        hint = f" (see xnet {sub} --help)" if sub else " (see xnet --help)"
        raise UserError(f"{message}{hint}")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="xnet", description="Deep Expander Networks: train and evaluate models.")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser(
        "train",
        help="train one model on one dataset with one seed into one run directory",
        description="Train one model; resumes from DIR/checkpoint.pt if present; "
        "does nothing if DIR/metrics.json shows the run finished.",
    )
    add_arguments(t, TrainConfig)
    e = sub.add_parser(
        "evaluate",
        help="re-evaluate a saved model",
        description="Rebuild the model of a training checkpoint and evaluate it.",
    )
    add_arguments(e, EvaluateConfig)
    e.add_argument(
        "--force",
        action="store_true",
        help="let --json overwrite an existing file (never a run directory's own files, nor the checkpoint)",
    )
    return ap


def error_line(e: BaseException) -> str:
    """The one line to print for ``e``: a UserError raised in a DataLoader worker arrives wrapped in
    the worker's traceback; its last line is the message."""
    text = str(e)
    if "Original Traceback" in text:
        last = [ln for ln in text.splitlines() if ln.strip()][-1]
        text = last.split(": ", 1)[1] if ": " in last and "Error" in last.split(": ", 1)[0] else last
    return one_line(text)


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "train":
            from .training.trainer import train

            train(config_from_args(TrainConfig, args))
        else:
            cfg = config_from_args(EvaluateConfig, args)
            from .evaluate import check_json_out, evaluate_checkpoint

            if cfg.json_out:
                check_json_out(cfg.json_out, force=args.force, checkpoint=cfg.checkpoint)
            res = evaluate_checkpoint(
                cfg.checkpoint,
                dataset=cfg.dataset,
                data_dir=cfg.data_dir,
                device=cfg.device,
                batch_size=cfg.batch_size,
                limit_val_batches=cfg.limit_val_batches,
                val_size=cfg.val_size,
                workers=cfg.workers,
                download=cfg.download,
                progress=cfg.progress,
            )
            print(json.dumps(res, indent=2, allow_nan=False))
            if cfg.json_out:
                # again: the file may have appeared (or become a link) while the model was evaluated
                check_json_out(cfg.json_out, force=args.force, checkpoint=cfg.checkpoint)
                from pathlib import Path

                from .runs.files import atomic_write_json, write_error

                try:
                    atomic_write_json(Path(cfg.json_out), res)
                except OSError as err:
                    raise write_error("--json", cfg.json_out, err) from None
    except UserError as e:
        print(f"xnet: error: {error_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xnet: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as e:
        if "Original Traceback" in str(e) and "UserError" in str(e):  # a worker's UserError, re-wrapped
            print(f"xnet: error: {error_line(e)}", file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
