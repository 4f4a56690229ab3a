"""A per-sample Parquet file too large to hold in memory, read and analysed one task at a time.

Chunked reading, not a streaming engine (issue 15): the per-sample stages resample items within a family x
task (the paired bootstrap draws one set of item weights per task, from a stream seeded by the family and
task names, ``analysis.resampling.seeds``), so a task's points depend on its own rows only. ``TaskPipeline``
reads each task with ``pl.scan_parquet`` and a filter on the task column (Parquet row-group statistics skip
the other tasks' row groups), validates and finalizes those rows with the tidy reader's own rules
(``analysis.formats.tidy.read_frame``: types, outputs, choices, and the duplicate check, whose key
``schema.SAMPLE_KEY`` holds the task), scores them, computes their points, and keeps only what the later
stages read: the points and replicates, the 0/1 metrics' pair counts for the steps (``analysis.steps``), the
target lengths, chance levels, and each model's scales (for the warnings and ``require_placed``). The rows
are dropped before the next task is read. Everything after the points (fits, emergence, verdicts, steps,
forecasts) runs on those summaries as ``Pipeline`` runs it, so the report is the same as reading the file
whole (tests/equivalence/test_by_task.py).

Which files: one Parquet file named on its own, read by the tidy reader, with an ``item`` column and at
least ``CHUNKED_ROWS`` rows (the row count is in the file's footer), whose tasks each lie in one stretch of
rows (at most twice the file's rows spanned in all; files are written task by task). The rest are loaded
whole, as are files read with options whose outcome is decided over the whole file at once: ``--drop-where``
and ``--params-from-name`` (their warnings count rows and models of the file), a ``params_nominal`` column
that is not true/false, and a float ``replicate`` column (whether its labels read ``1`` or ``1.0``). The
resolution sweep reads every item of every task for each subsample, so ``report --resolution-sweep`` loads
the file whole.

Differences from reading the file whole: a file with several bad rows in different tasks names the bad row
of the first task read (tasks are read in the order of their first row); a filter (``--task``,
``--family``) that matches nothing is reported after the file has been read; and a file changed while it is
read is read by polars from the path (the whole-file reader copies the bytes first: copying 2.4 GB would
defeat the pass). Files too small to hold ``CHUNKED_ROWS`` rows are not even probed by path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from analysis import schema, threads
from analysis.errors import InputError
from analysis.formats import registry, tidy
from analysis.formats.finalize import empty_samples
from analysis.formats.mapping import apply_mapping
from analysis.formats.validation import ROW
from analysis.loading import _combine, _sizes_hint, _unplaced_models, require_placed
from analysis.metrics import score_samples, spec_for
from analysis.options import LoadOptions, MetricOptions, ResampleSettings, SweepSettings
from analysis.pipeline import Analysis, Pipeline
from analysis.resampling.points import SamplePoints, assemble_points, sample_points
from analysis.schema import MetricSpec, PointSet, ResultTable, ScoredSamples
from analysis.steps import Outcomes, step_outcomes
from analysis.target_lengths import target_lengths

CHUNKED_ROWS = 20_000_000  # per-sample Parquet files with at least this many rows are read a task at a time
# a per-sample Parquet row takes at least this many bytes (24 in the simulator's 100M file): smaller files are
# not probed by path, so every file the whole-file reader takes reaches polars as bytes (a mapped file
# rewritten meanwhile would raise SIGBUS: tests/robustness/test_cluster_corpus.py)
_MIN_ROW_BYTES = 4
_MAX_SPAN = 2.0  # the tasks' row spans may cover at most this many times the file's rows


@dataclass(frozen=True)
class TaskSource:
    """A per-sample Parquet file read one task at a time: its path, the load options, its row count and
    its tasks (the task column's values after ``--map``, in the order of their first row; None for rows
    without a task, which the reader refuses)."""

    path: Path
    options: LoadOptions
    rows: int
    tasks: tuple[object, ...]

    def scan(self) -> pl.LazyFrame:
        """The file's rows with the mapping applied and numbered (``ROW``, from 1) as the tidy reader does.

        The numbers are the scan's own (``row_index_name``): a ``with_row_index`` after the mapping's schema
        lookup stays a node of its own, and the task filter is then not pushed into the scan (every task's
        read decoded the whole file: 60 s a task at 100M rows, against 1 s)."""
        scan = pl.scan_parquet(self.path, row_index_name=ROW, row_index_offset=1)
        return apply_mapping(scan, self.options.mapping, self.path)

    def read(self, task: object) -> ResultTable:
        """One task's rows as the loaded table would hold them: read, validated and finalized by the tidy
        reader's rules, columns cast and ordered as ``analysis.loading.load`` orders them."""
        wanted = pl.col(schema.TASK).is_null() if task is None else pl.col(schema.TASK) == task
        try:
            frame = self.scan().filter(wanted).collect()
        except pl.exceptions.PanicException as err:
            detail = str(err).strip().splitlines()[0][:200] if str(err).strip() else "no detail"
            raise InputError(
                f"the file could not be decoded ({detail}); it may be corrupt or truncated: re-export it",
                path=str(self.path),
            ) from None
        except pl.exceptions.PolarsError as err:
            raise InputError(f"cannot read it as parquet: {err}", path=str(self.path)) from err
        table = tidy.read_frame(frame, self.path, self.options)
        del frame
        samples = _combine([table.samples], empty_samples(), empty_samples().columns)
        return replace(table, samples=samples)


def task_source(
    paths: Sequence[str | Path], options: LoadOptions, min_rows: int | None = None
) -> TaskSource | None:
    """The file ``paths`` names when it is to be read a task at a time (the module docstring's rules), else
    None: load it whole with ``analysis.loading.load``, which also reports any problem with it."""
    if isinstance(paths, str | Path):
        paths = [paths]
    if len(paths) != 1 or options.drop_where or options.params_from_name:
        return None
    path = Path(paths[0])
    try:
        if path.is_symlink() or not path.is_file():
            return None
        reader = registry.reader_for(path, options.format_in)
        if reader is not tidy or tidy._kind(path) != "parquet":
            return None
        threshold = CHUNKED_ROWS if min_rows is None else min_rows
        if path.stat().st_size < threshold * _MIN_ROW_BYTES:
            return (
                None  # too small to hold the rows: read whole from a copy of its bytes, never probed by path
            )
        lazy = pl.scan_parquet(path)
        rows = lazy.select(pl.len()).collect().item()  # from the footer
        if rows < threshold:
            return None
        mapped = apply_mapping(lazy, options.mapping, path)
        columns = mapped.collect_schema()
        if schema.ITEM not in columns or schema.TASK not in columns:
            return None
        if schema.NOMINAL in columns and columns[schema.NOMINAL] != pl.Boolean:
            return None
        if schema.REPLICATE in columns and columns[schema.REPLICATE].is_float():
            return None
        spans = (
            mapped.select(schema.TASK)
            .with_row_index("_row")
            .group_by(schema.TASK)
            .agg(pl.col("_row").min().alias("first"), pl.col("_row").max().alias("last"))
            .collect(engine="streaming")
            .sort("first")
        )
    except (OSError, InputError, pl.exceptions.PolarsError, pl.exceptions.PanicException):
        return None  # the whole-file reader says what is wrong with it
    if (spans["last"] - spans["first"] + 1).sum() > _MAX_SPAN * rows:
        return None  # tasks interleaved: each task's scan would read most of the file
    return TaskSource(path, options, rows, tuple(spans[schema.TASK].to_list()))


@dataclass(frozen=True, eq=False)
class _Pass:
    """What one pass over the tasks keeps for one metric option (and resampling, when points were asked)."""

    scored: ScoredSamples  # specs, chance levels, skipped metrics; its frame has no rows
    lengths: dict[tuple[str, str], float]
    points: PointSet | None
    outcomes: Outcomes | None


class TaskPipeline(Pipeline):
    """``Pipeline`` over a ``TaskSource``: the stages that read per-sample rows (scores, points, the steps'
    outcomes, target lengths) run in one pass over the tasks, each task read, analysed and dropped in turn;
    the later stages run on what the pass keeps, as ``Pipeline`` runs them.

    ``keep`` chooses the rows to analyse from each task's table (the report's filters: ``ChunkFilter``);
    ``finish`` is called after the first pass (the filters' "matches nothing"). ``table`` holds no per-sample
    rows; after the first pass its warnings are the load's, and ``sample_rows`` counts the rows analysed.
    """

    def __init__(
        self,
        source: TaskSource,
        keep: Callable[[ResultTable], ResultTable] | None = None,
        finish: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(ResultTable(sources=(str(source.path),)))
        self.source = source
        self.sample_rows = 0
        self._keep = keep or (lambda table: table)
        self._filtered = keep is not None
        self._finish = finish
        self._loaded = False
        self._prescored_specs: dict[str, MetricSpec] | None = None
        self._passes: dict[tuple[MetricOptions, ResampleSettings | None], _Pass] = {}

    # ------------------------------------------------------------------ the stages that read rows

    def scored(self, options: MetricOptions) -> ScoredSamples:
        return self._pass_for(options, None).scored

    def lengths(self, options: MetricOptions) -> dict[tuple[str, str], float]:
        return self._pass_for(options, None).lengths

    def points(self, options: MetricOptions, resample: ResampleSettings) -> PointSet:
        found = self._pass_for(options, resample).points
        assert found is not None
        return found

    def outcomes(self, options: MetricOptions, resample: ResampleSettings) -> Outcomes:
        found = self._pass_for(options, resample).outcomes
        assert found is not None
        return found

    def resolution_sweep(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        x: str,
        sweep: SweepSettings | None = None,
        on_run: Callable[[int, int], None] | None = None,
    ) -> object:
        raise InputError("the resolution sweep reads the whole file: load it whole (analysis.loading.load)")

    def run(self, *args: object, **kwargs: object) -> Analysis:
        analysis = super().run(*args, **kwargs)  # type: ignore[arg-type]
        return replace(analysis, table=self.table, sample_rows=self.sample_rows)

    # ------------------------------------------------------------------------------------ the pass

    def _pass_for(self, options: MetricOptions, resample: ResampleSettings | None) -> _Pass:
        """The pass for these settings; scores and lengths (``resample`` None) come from any pass with the
        same metric options."""
        if (options, resample) in self._passes:
            return self._passes[(options, resample)]
        if resample is None:
            for (done, _), found in self._passes.items():
                if done == options:
                    return found
        found = self._run_pass(options, resample)
        self._passes[(options, resample)] = found
        return found

    def _run_pass(self, options: MetricOptions, resample: ResampleSettings | None) -> _Pass:
        first: ScoredSamples | None = None
        chance: dict[tuple[str, str], float] = {}
        lengths: dict[tuple[str, str], float] = {}
        parts: list[SamplePoints] = []
        outcomes: Outcomes = {}
        scales: list[pl.DataFrame] = []
        warnings: list[str] = []
        rows = 0
        for table in self._tables():
            if not self._loaded:
                scales.append(table.samples.select(schema.MODEL, *schema.SCALES).unique())
                warnings += table.warnings
            table = self._keep(table)
            if self._prescored_specs is None:
                self._prescored_specs = self._guess_prescored(table.prescored)
            scored = score_samples(table, options, prescored_specs=self._prescored_specs)
            rows += table.samples.height
            lengths |= target_lengths(table, options)
            del table
            chance |= scored.chance
            if first is None:  # its specs and skipped metrics (the same for every task); not its rows
                first = replace(scored, frame=scored.frame.clear())
            if resample is not None and scored.frame.height:
                parts.append(sample_points(scored, resample))
                outcomes |= step_outcomes(scored, resample)
            del scored
        if not self._loaded:
            self._finish_load(scales, warnings)
        if first is None:  # a file without tasks is not read a task at a time (it has no rows)
            raise InputError("the file has no rows", path=str(self.source.path))
        summary = replace(first, specs=dict(first.specs), chance=chance)
        self.sample_rows = rows
        points = None
        if resample is not None:
            points = assemble_points(parts, summary, self.table, resample)
        return _Pass(summary, lengths, points, outcomes if resample is not None else None)

    def _tables(self) -> Iterator[ResultTable]:
        """Each task's table in turn, the next one read (polars, the checks) while this one is analysed
        (numpy): two tasks' rows at most, and the reading overlaps the bootstrap on a second core. A task
        that fails to read raises when its turn comes, as reading them in turn would."""
        tasks = self.source.tasks
        with threads.pool(2) as pool:
            upcoming = pool.submit(self.source.read, tasks[0]) if tasks else None
            for index in range(len(tasks)):
                assert upcoming is not None
                current = upcoming
                upcoming = pool.submit(self.source.read, tasks[index + 1]) if index + 1 < len(tasks) else None
                table = current.result()
                del current
                yield table
                del table

    def _finish_load(self, scales: list[pl.DataFrame], warnings: list[str]) -> None:
        """What ``analysis.loading.load`` and the report check over the whole table: a model without any
        scale is named in the warnings, no model placed at all stops, so does a filter matching nothing."""
        models = pl.concat(scales).unique() if scales else pl.DataFrame()
        placed = ResultTable(samples=models, sources=self.table.sources) if scales else ResultTable()
        require_placed(placed, self.source.options)
        hint = _sizes_hint(self.source.options)
        unplaced = [
            f"model {model!r} has no params, tokens, flops or loss: it cannot be placed on a scale axis "
            f"({hint})"
            for model in _unplaced_models(placed.samples, placed.aggregates)
        ]
        self.table = replace(self.table, warnings=tuple(dict.fromkeys([*unplaced, *warnings])))
        self._loaded = True
        if self._finish is not None:
            self._finish()

    def _guess_prescored(self, prescored: Sequence[str]) -> dict[str, MetricSpec]:
        """The specs of the pre-scored columns, guessed as ``spec_for`` guesses them from the values of every
        row analysed (0/1 when every value present is 0 or 1): without ``keep``, one streaming count over
        those columns; with it, a first reading of every task (the rows ``keep`` chooses)."""
        if not prescored:
            return {}
        counts = {name: [0, 0] for name in prescored}  # values present, values other than 0 and 1

        def add(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
            values = {name: pl.col(name).cast(pl.Float64, strict=False) for name in prescored}
            return frame.select(
                *(v.is_not_null().sum().alias(f"present {n}") for n, v in values.items()),
                *(
                    (v.is_not_null() & ~v.is_in([0.0, 1.0])).sum().alias(f"other {n}")
                    for n, v in values.items()
                ),
            )

        if self._filtered:
            found = [add(self._keep(self.source.read(task)).samples) for task in self.source.tasks]
        else:
            found = [add(self.source.scan()).collect(engine="streaming")]
        for frame in found:
            for name in prescored:
                counts[name][0] += int(frame[f"present {name}"].item())
                counts[name][1] += int(frame[f"other {name}"].item())
        specs = {}
        for name, (present, other) in counts.items():
            # a stand-in giving spec_for's test the same answer: some value present, all of them 0 or 1
            stand_in = [] if not present else [0.0] if not other else [0.5]
            specs[name] = spec_for(name, pl.Series(name, stand_in, dtype=pl.Float64))
        return specs
