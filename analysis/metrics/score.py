"""``score_samples``: every metric the per-sample columns allow, one Float64 column each."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from analysis import schema, threads
from analysis.metrics.choice import _chance, _choice_metrics
from analysis.metrics.columns import _loss_metrics, _prescored_metrics
from analysis.metrics.registry import (
    _REQUIRES,
    BRIER,
    CHOICE_PROB,
    DEFAULT_OPTIONS,
    MC_GRADE,
    METRICS,
    SEQ_PROB,
    TOKEN_LOSS,
    TOKEN_PROB,
    _computable,
    with_overrides,
)
from analysis.metrics.text import _text_metrics
from analysis.options import MetricOptions
from analysis.schema import MetricSpec, ResultTable, ScoredSamples


def score_samples(
    table: ResultTable,
    options: MetricOptions = DEFAULT_OPTIONS,
    *,
    prescored_specs: Mapping[str, MetricSpec] | None = None,
) -> ScoredSamples:
    """Every metric the per-sample columns allow, one Float64 column each, beside identity + ``item`` (and
    ``replicate`` when the rows carry one).

    ``prescored_specs``: the specs of pre-scored columns guessed from the whole file's values
    (``analysis.by_task``), used instead of guessing them from ``table``'s rows.

    ``skipped`` names each registry metric that could not be computed, or was left out by
    ``MetricOptions.only``, and why. Values keep their own units and orientation (an edit distance stays a
    distance).
    """
    samples = table.samples
    keys = (*schema.IDENTITY, *schema.SCALES, schema.ITEM, schema.REPLICATE)
    identity = [c for c in keys if c in samples.columns]
    have = set(samples.columns)
    prescored = [c for c in table.prescored if c in have]
    columns: dict[str, pl.Series] = {}
    skipped: list[tuple[str, str]] = []
    for metric, needs in _REQUIRES.items():
        missing = [] if _computable(metric, have) else [c for c in needs if c not in have]
        if metric in prescored:
            skipped.append((metric, f"the file gives its own per-sample '{metric}' column, used instead"))
        elif missing:
            skipped.append((metric, f"needs column(s) {', '.join(missing)}"))
    wanted = [m for m in _REQUIRES if m not in prescored and _computable(m, have)]
    if options.only is not None:
        skipped += [(m, "not requested (--metric)") for m in wanted if m not in options.only]
        wanted = [m for m in wanted if m in options.only]
    with threads.pool(3) as pool:  # independent groups overlap (polars and numpy release the GIL)
        text_metrics = pool.submit(_text_metrics, samples, options, wanted)
        loss_wanted = {TOKEN_LOSS, TOKEN_PROB, SEQ_PROB} & set(wanted)
        loss_metrics = pool.submit(_loss_metrics, samples, loss_wanted) if loss_wanted else None
        chance = pool.submit(_chance, samples, [*wanted, *prescored])
        choice_wanted = {MC_GRADE, CHOICE_PROB, BRIER} & set(wanted)
        choice_metrics = _choice_metrics(samples) if choice_wanted else pl.DataFrame()
        for group in (text_metrics.result(), {} if loss_metrics is None else loss_metrics.result()):
            columns.update(group)
        columns.update({series.name: series for series in choice_metrics})
        chance_levels = chance.result()
    columns = {m: columns[m] for m in _REQUIRES if m in columns and m in wanted}  # the registry's order
    specs = {m: METRICS[m] for m in columns}
    given, given_specs = _prescored_metrics(samples, prescored, prescored_specs)
    columns.update(given)
    specs.update(given_specs)
    specs = with_overrides(specs, options.overrides)
    for metric, name, value in options.overrides:  # a chance the user states holds for every task
        if name == "chance" and metric in specs:
            tasks = {task for task, _ in chance_levels} | set(samples[schema.TASK].unique().to_list())
            chance_levels |= {(task, metric): float(value) for task in tasks}
    frame = samples.select(identity).with_columns(
        *(series.cast(pl.Float64).alias(name) for name, series in columns.items())
    )
    return ScoredSamples(frame, specs, chance_levels, tuple(skipped), options.overrides)
