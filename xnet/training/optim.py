"""The optimizer and the learning-rate schedule of a :class:`xnet.recipes.Recipe`."""

from __future__ import annotations

import torch

from ..recipes import Recipe


class FlooredMultiStepLR(torch.optim.lr_scheduler.MultiStepLR):
    """``MultiStepLR`` whose learning rate never goes below ``lr_floor``."""

    def __init__(self, optimizer, milestones, gamma=0.1, lr_floor=0.0, last_epoch=-1):
        self.lr_floor = lr_floor
        super().__init__(optimizer, milestones, gamma=gamma, last_epoch=last_epoch)

    def get_lr(self):
        return [max(self.lr_floor, lr) for lr in super().get_lr()]


def build_optimizer(recipe: Recipe, model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
    )


def build_scheduler(recipe: Recipe, optimizer, epochs: int) -> FlooredMultiStepLR:
    """A per-epoch scheduler for a run of ``epochs`` epochs (milestones scaled to the run)."""
    return FlooredMultiStepLR(optimizer, recipe.scaled_milestones(epochs), gamma=recipe.gamma, lr_floor=recipe.lr_floor)
