"""The trainer, split along its seams (``xnet.train`` is the entry point and re-exports the API).

- :mod:`xnet.training.config`: ``TrainConfig`` and the ``xnet train`` / ``xnet evaluate`` flags,
  derived from its fields; validation of options and ``--set`` pairs; torch-free.
- :mod:`xnet.training.rundir`: run-directory paths, atomic writes, the lock; torch-free.
- :mod:`xnet.training.model`: the model of a run (built, counted, its facts for the run record).
- :mod:`xnet.training.checkpoint`: saving and loading checkpoints.
- :mod:`xnet.training.optim`: the optimizer and the schedule of a recipe.
- :mod:`xnet.training.distributed`: process groups, samplers, collectives.
- :mod:`xnet.training.engine`: one training epoch, one evaluation pass (shared with ``evaluate``).

Importing this package imports no torch.
"""
