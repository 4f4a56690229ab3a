"""Wide tables: one row per model (or run), one column per benchmark or metric; ``--format-in wide``.

A wide table cannot be told from a tidy one by looking, so ``sniff`` always says no and the user forces
this reader. ``options.mapping`` (their column -> role) names the columns; unmapped columns whose name already
is a role (case-insensitive, e.g. ``model``, ``task``, ``n``, ``shots``, ``seed``) take it. Roles:

* identity and scales: ``model`` (required), ``family``, ``task``, ``params``, ``tokens``, ``flops``,
  ``loss``; ``scale_factors`` (e.g. params 1e9 for "Model Size (B)") are applied by ``finalize``;
* ``n``, ``n_correct``, ``stderr``: per-row counts and errors;
* ``metric``: a metric column. When some columns are mapped to ``metric`` only they melt; otherwise every
  other numeric column melts;
* ``shots`` (also auto: number_of_shots, num_fewshot, ...): folded as ``"<task> <k>-shot"`` for a task run at
  several settings;
* ``variant`` (auto: prompt_type): folded as ``"<task> [<value>]"`` when it varies, so prompts are not pooled;
* ``replicate`` (auto: seed): rows that differ only here are replicates of one point (training seeds); a row
  repeated in every column is kept once. They are kept, labelled in the canonical ``replicate`` column
  (several replicate columns are joined as ``"a/b"``); the points stage averages them and ``--resample-unit
  seed`` resamples them. A warning says how many points have how many replicates;
* ``step``: training checkpoints (see ``analysis.formats.checkpoints``);
* ``ignore``: dropped.

Melting: with a ``task`` column each metric column becomes a metric (metric id = column name); without one
each benchmark column becomes a task with metric ``score``, or, when the column's name ends in a metric
(``arithmetic_3ds_2_acc``, ``word_unscrambling_2_exact_match``), the task before it with that metric, whose
name then says the metric's kind. A table with ``n_correct`` and ``n`` is a count
table: metric ``accuracy`` (as in the tidy reader), value = n_correct / n. Values listed in
``options.null_values`` (e.g. "-100" for "not computed") are missing. Rows with a missing value are dropped
and counted in a warning.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analysis import schema
from analysis.errors import InputError
from analysis.files import read_bytes, with_lf_line_ends
from analysis.formats.checkpoints import STEP, split_checkpoints
from analysis.formats.finalize import fill_scales_by_model, finalize
from analysis.formats.frames import drop_where, fold_shots
from analysis.formats.jsonio import check_utf8_text
from analysis.formats.validation import check_counts
from analysis.options import LoadOptions
from analysis.schema import ResultTable

NAME = "wide"
LOSS_TASK = "pretraining"  # task of a loss-only table; its metric is "loss" (lower is better)

SHOTS, VARIANT, REPLICATE, IGNORE = "shots", "variant", "replicate", "ignore"
IDENTITY_ROLES: tuple[str, ...] = (
    *schema.IDENTITY,
    *schema.SCALES,
    schema.N,
    schema.N_CORRECT,
    schema.STDERR,
)
EXTRA_ROLES: tuple[str, ...] = (SHOTS, STEP, VARIANT, REPLICATE, IGNORE)
ROLES: tuple[str, ...] = (*IDENTITY_ROLES, schema.METRIC, *EXTRA_ROLES)
AUTO_ROLES: dict[str, str] = {
    **{c: c for c in IDENTITY_ROLES},
    "shots": SHOTS,
    "number_of_shots": SHOTS,
    "num_fewshot": SHOTS,
    "n_shots": SHOTS,
    "fewshot": SHOTS,
    "step": STEP,
    "seed": REPLICATE,
    "prompt_type": VARIANT,
}
BENCHMARK_METRIC = "score"
# a benchmark column whose name ends in a metric: the task before it, the metric after the last underscore
METRIC_SUFFIX = (
    r"(?i)^(?P<task>.+?)_(?P<metric>acc_norm|acc|accuracy|exact_match|exact_str_match|em|bleu|f1|rouge[12l]?"
    r"|mc[12]|pass@\d+|brier|loss|perplexity|ppl)$"
)
COUNTS_METRIC = "accuracy"
_SUFFIX_READERS = {".csv": ",", ".tsv": "\t"}


def sniff(path: Path) -> bool:
    """Never: a wide table looks like any CSV, so it is opened only with ``--format-in wide``."""
    return False


def _read_table(path: Path, null_values: tuple[str, ...]) -> pl.DataFrame:
    suffix = path.suffix.lower()
    nulls = ["", "None", "NA", "nan", "NaN", *null_values]
    if suffix not in (".parquet", ".pq"):
        check_utf8_text(path)
    try:  # polars parses the bytes, never the path, which it would memory-map (SIGBUS if rewritten meanwhile)
        if suffix in _SUFFIX_READERS:
            return pl.read_csv(
                with_lf_line_ends(read_bytes(path)),
                separator=_SUFFIX_READERS[suffix],
                infer_schema_length=None,
                null_values=nulls,
            )
        if suffix in (".parquet", ".pq"):
            frame = pl.read_parquet(read_bytes(path))
        elif suffix in (".jsonl", ".ndjson"):
            frame = pl.read_ndjson(with_lf_line_ends(read_bytes(path)), infer_schema_length=None)
        else:
            raise InputError("a wide table must be .csv, .tsv, .parquet or .jsonl", path=str(path))
    except InputError:
        raise
    except (pl.exceptions.PolarsError, OSError) as err:
        raise InputError(f"cannot read it as a table ({err})", path=str(path)) from err
    if null_values:
        numeric_nulls = [float(v) for v in null_values if _is_number(v)]
        frame = frame.with_columns(
            pl.when(pl.col(c).is_in(numeric_nulls)).then(None).otherwise(pl.col(c)).alias(c)
            for c, dtype in frame.schema.items()
            if dtype.is_numeric()
        )
    return frame


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _roles(columns: list[str], options: LoadOptions, path: Path) -> tuple[dict[str, str], list[str]]:
    """Column -> role for every column that has one, and warnings for mapped names the file lacks."""
    warnings = []
    roles: dict[str, str] = {}
    for their, role in options.mapping.items():
        if role not in ROLES:
            raise InputError(
                f"--map {their}={role}: a wide table takes the roles {', '.join(ROLES)}", path=str(path)
            )
        if their in columns:
            roles[their] = role
        else:
            warnings.append(f"{path.name}: mapped column '{their}' is not in the file; ignored")
    taken = set(roles.values()) - {schema.METRIC, IGNORE, VARIANT, REPLICATE}
    for column in columns:
        role = AUTO_ROLES.get(column.lower())
        if column not in roles and role is not None and role not in taken:
            roles[column] = role
            taken.add(role)
    for role in (*IDENTITY_ROLES, SHOTS, STEP):
        owners = [c for c, r in roles.items() if r == role]
        if len(owners) > 1:
            raise InputError(
                f"columns {', '.join(owners)} are all mapped to '{role}'; map only one of them",
                path=str(path),
            )
    if schema.MODEL not in roles.values():
        raise InputError(
            f"no model column; name it with --map <column>=model (columns: {', '.join(columns[:12])})",
            path=str(path),
        )
    return roles, warnings


def replicates_of(roles: dict[str, str]) -> list[str]:
    """The columns that label replicate runs (e.g. seed)."""
    return [c for c, r in roles.items() if r == REPLICATE]


def _fold(task: pl.Expr, column: str, template: str) -> pl.Expr:
    value = pl.col(column).cast(pl.Utf8).str.replace(r"\.0$", "")
    return pl.when(pl.col(column).is_null()).then(task).otherwise(pl.format(template, task, value))


def read(path: Path, options: LoadOptions | None = None) -> ResultTable:
    """Melt one wide table into aggregate rows (see the module docstring for the roles and rules)."""
    options = options or LoadOptions()
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "not a file; a wide table is one .csv, .tsv, .parquet or .jsonl file", path=str(path)
        )
    frame = _read_table(path, tuple(options.null_values))
    if frame.is_empty():
        raise InputError("the table has no rows", path=str(path))
    frame, dropped = drop_where(frame, options.drop_where, path, options.mapping)
    roles, warnings = _roles(frame.columns, options, path)
    warnings = [*dropped, *warnings]
    if replicates_of(roles):  # a run listed twice is one replicate, not two (replicates are kept apart now)
        distinct = frame.unique(maintain_order=True)
        if distinct.height < frame.height:
            warnings.append(
                f"{path.name}: {frame.height - distinct.height} row(s) repeat another row in every column: "
                "kept once"
            )
            frame = distinct
    by_role = {role: column for column, role in roles.items() if role not in (schema.METRIC, IGNORE)}
    variants = [c for c, r in roles.items() if r == VARIANT]
    replicates = replicates_of(roles)
    explicit = [c for c, r in roles.items() if r == schema.METRIC]
    counts = schema.N_CORRECT in by_role and schema.N in by_role
    if explicit:
        metric_columns = explicit
    elif counts:
        metric_columns = []
    else:
        metric_columns = [c for c, dtype in frame.schema.items() if c not in roles and dtype.is_numeric()]
    for column in metric_columns:
        if not frame.schema[column].is_numeric() and frame[column].null_count() < frame.height:
            raise InputError(f"column {column}: mapped as a metric but not numeric", path=str(path))
    if not metric_columns and not counts and schema.LOSS in by_role:
        # a table of training runs (Chinchilla-style N, D, loss): the loss is the curve to score and fit
        frame = frame.with_columns(pl.col(by_role[schema.LOSS]).alias(LOSS_TASK))
        metric_columns = [LOSS_TASK]
        warnings.append(
            f"{path}: no metric columns, so the loss is scored as task {LOSS_TASK!r}, metric 'loss'"
        )
    if not metric_columns and not counts:
        raise InputError("no numeric metric columns; map them with --map <column>=metric", path=str(path))
    ignored = [c for c in frame.columns if c not in roles and c not in metric_columns]
    if ignored and (explicit or counts):
        warnings.append(f"{path.name}: columns not used: {', '.join(ignored)}")
    keep = {column: role for role, column in by_role.items() if role not in (VARIANT, REPLICATE)}
    frame = frame.rename({c: r for c, r in keep.items() if c != r}).with_columns(
        pl.col(c).alias(f"_variant{i}") for i, c in enumerate(variants)
    )
    frame = frame.with_columns(pl.col(c).alias(f"_replicate{i}") for i, c in enumerate(replicates))
    has_task = schema.TASK in frame.columns
    identity = [
        c for c in (schema.FAMILY, schema.MODEL, schema.TASK, *schema.SCALES, STEP, SHOTS) if c in frame
    ]
    identity += [f"_variant{i}" for i in range(len(variants))]
    identity += [f"_replicate{i}" for i in range(len(replicates))]
    row_values = [c for c in (schema.N, schema.STDERR, schema.N_CORRECT) if c in frame.columns]
    if counts:
        long = frame.select(*identity, *row_values).with_columns(
            pl.lit(COUNTS_METRIC).alias(schema.METRIC),
            (pl.col(schema.N_CORRECT).cast(pl.Float64) / pl.col(schema.N)).alias(schema.VALUE),
        )
        if not has_task:
            raise InputError(
                "a count table needs a task column; map one with --map <column>=task", path=str(path)
            )
    else:
        frame = frame.with_columns(pl.col(metric_columns).cast(pl.Float64))
        long = frame.unpivot(
            on=metric_columns,
            index=[*identity, *row_values],
            variable_name="_column",
            value_name=schema.VALUE,
        )
        if has_task:
            long = long.rename({"_column": schema.METRIC})
        else:
            # a column named <task>_<metric> (ObsScaling's "arithmetic_3ds_2_acc") says its metric: the name
            # decides the metric's kind (analysis.metrics.spec_for), so it is kept apart from the task
            split = pl.col("_column").str.extract_groups(METRIC_SUFFIX)
            long = (
                long.with_columns(split.alias("_split"))
                .with_columns(
                    pl.coalesce(pl.col("_split").struct.field("task"), pl.col("_column")).alias(schema.TASK),
                    pl.when(pl.col("_column") == LOSS_TASK)
                    .then(pl.lit(schema.LOSS))
                    .otherwise(pl.coalesce(pl.col("_split").struct.field("metric"), pl.lit(BENCHMARK_METRIC)))
                    .alias(schema.METRIC),
                )
                .drop("_column", "_split")
            )
    missing = long[schema.VALUE].null_count()
    if missing:
        warnings.append(f"{path.name}: {missing} empty or not-computed values dropped")
        long = long.filter(pl.col(schema.VALUE).is_not_null())
    task = pl.col(schema.TASK).cast(pl.Utf8)
    for i, _ in enumerate(variants):
        if long[f"_variant{i}"].n_unique() > 1:
            task = _fold(task, f"_variant{i}", "{} [{}]")
    if SHOTS in long.columns:
        check_counts(long, SHOTS, path)
    long = long.with_columns(pl.col(schema.TASK).cast(pl.Utf8).alias("_base_task"), task.alias(schema.TASK))
    long = fold_shots(long, SHOTS, by="_base_task").drop(
        ["_base_task", *(f"_variant{i}" for i in range(len(variants)))], strict=False
    )
    long, replicate_warnings = _label_replicates(long, replicates, path)
    warnings += replicate_warnings
    _check_unique(long, frame, roles, metric_columns, path)
    if schema.FAMILY not in long.columns:
        long = long.with_columns(pl.lit(options.family or schema.DEFAULT_FAMILY).alias(schema.FAMILY))
    long, checkpoint_warnings = split_checkpoints(long, options.tokens_per_step)
    table = ResultTable(aggregates=long, warnings=(*warnings, *checkpoint_warnings), sources=(str(path),))
    return finalize(table, options, path)


def _label_replicates(
    long: pl.DataFrame, replicates: list[str], path: Path
) -> tuple[pl.DataFrame, list[str]]:
    """The replicate columns (e.g. seeds) as one canonical ``replicate`` label per row; a warning counts them.

    Nothing is averaged here: the points stage averages the replicates of a point and decides, by the
    resampling unit, whether its interval resamples them.
    """
    columns = [f"_replicate{i}" for i in range(len(replicates))]
    if not columns:
        return long, []
    text = [pl.col(c).cast(pl.Utf8).str.replace(r"\.0$", "").fill_null("") for c in columns]
    long = long.with_columns(pl.concat_str(text, separator="/").alias(schema.REPLICATE)).drop(columns)
    key = [
        c
        for c in long.columns
        if c not in (schema.REPLICATE, schema.VALUE, schema.N, schema.STDERR, schema.N_CORRECT)
    ]
    counts = long.group_by(key).agg(pl.len().alias("_k"))["_k"]
    warnings = []
    if counts.max() is not None and counts.max() > 1:
        spread = counts.value_counts().sort("_k")
        described = ", ".join(
            f"{row['count']} point(s) from {row['_k']} run(s)" for row in spread.iter_rows(named=True)
        )
        warnings.append(
            f"{path.name}: runs that differ only in {', '.join(replicates)} are replicates of one point "
            f"({described}): averaged by the points stage, resampled with --resample-unit seed"
        )
    return long, warnings


def _check_unique(
    long: pl.DataFrame, frame: pl.DataFrame, roles: dict[str, str], metric_columns: list[str], path: Path
) -> None:
    key = [
        c
        for c in (schema.FAMILY, schema.MODEL, schema.TASK, schema.METRIC, STEP, schema.REPLICATE)
        if c in long.columns
    ]
    repeated = long.filter(pl.struct(key).is_duplicated())
    if repeated.is_empty():
        return
    row = repeated.row(0, named=True)
    candidates = [
        c for c in frame.columns if c not in roles and c not in metric_columns and c not in long.columns
    ]
    hint = f" (e.g. {', '.join(candidates[:4])})" if candidates else ""
    raise InputError(
        f"model {row[schema.MODEL]!r} task {row[schema.TASK]!r} metric {row[schema.METRIC]!r} is in several "
        f"rows; map the column that tells them apart{hint} as variant, replicate or shots",
        path=str(path),
    )


def join_on_model(frame: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """Fill missing scales and a default family from ``reference`` rows of the same model name.

    For a second wide file of the same models that holds only scores (ObsScaling's emergent-task table next to
    its benchmark table). ``load`` does this for every set of files; kept here for reading one pair directly.
    """
    return fill_scales_by_model(frame, reference)
