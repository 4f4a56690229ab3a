"""Fitting scaling laws to points: the laws, their fitting procedures, bootstrap CIs, backtests and the stage.

Modules, from the bottom up (each imports only those above it):

* ``laws``: the four laws' formulas, parameter names, fitted space and the default law per metric;
* ``results``: ``FitResult``, ``Backtest`` and ``FitSet``, what every other module returns;
* ``problems``: each law set up on its data (kernel, start grid, bounds) and the robust loss; no optimizer;
* ``optimizer``: grid scoring, the batched Gauss-Newton refinement and the scipy polish; no law;
* ``bootstrap``: the fit bootstrap's replicates and percentile CIs;
* ``procedure``: ``fit_law``, the readable procedure from checks to a finished fit;
* ``backtesting``: ``backtest`` and the hold-out rule;
* ``stage``: ``fit_points`` (the pipeline's fit stage) and ``fit_table``.
"""

from analysis.fits.backtesting import backtest, held_out, held_out_rows, holds_out_largest
from analysis.fits.bootstrap import REPLICATE_TOP
from analysis.fits.laws import DEFAULT_LAWS, LAWS, Law, default_law, evaluate, get_law
from analysis.fits.problems import HUBER_DELTA
from analysis.fits.procedure import REFINE_TOP, fit_law
from analysis.fits.results import Backtest, FitResult, FitSet
from analysis.fits.stage import TABLE_TASK, fit_points, fit_table

__all__ = [
    "DEFAULT_LAWS",
    "HUBER_DELTA",
    "LAWS",
    "REFINE_TOP",
    "REPLICATE_TOP",
    "TABLE_TASK",
    "Backtest",
    "FitResult",
    "FitSet",
    "Law",
    "backtest",
    "default_law",
    "evaluate",
    "fit_law",
    "fit_points",
    "fit_table",
    "get_law",
    "held_out",
    "held_out_rows",
    "holds_out_largest",
]
