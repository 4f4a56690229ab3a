"""Points with honest intervals: per family x model x task x metric a mean, n, a bootstrap CI and replicates.

Modules, from the bottom up (each imports only those above it):

* ``seeds``: the seeding rule of every random stream and the bootstrap's count draw;
* ``intervals``: binomial (Wilson, Clopper-Pearson) and normal intervals;
* ``layout``: the wide per-sample frame as one items x models matrix per family x task x metric;
* ``bootstrap``: the engine, replicate means paired or unpaired;
* ``points``: ``compute_points``, the pipeline's points stage (per-sample and aggregate rows).
"""

from analysis.resampling.points import CHANCE, DIRECTION, KIND, MODEL_ORDER, POINT_SCHEMA, compute_points

__all__ = ["CHANCE", "DIRECTION", "KIND", "MODEL_ORDER", "POINT_SCHEMA", "compute_points"]
