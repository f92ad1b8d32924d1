"""The Dask worker plugin of cluster sweeps, in its own module so that importing the sweep
machinery does not import dask.distributed (~0.15 s) unless a cluster is used."""

from __future__ import annotations

from distributed import WorkerPlugin

from engine.research.parts import warm_up


class WarmKernels(WorkerPlugin):
    """Worker plugin: load (or compile) the numba kernels once per worker, at start."""

    name = "rotation-warm-kernels"

    def setup(self, worker) -> None:
        warm_up()
