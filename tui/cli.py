"""The `emergence-tui` command: the app by default, plus `report`, `simulate` and `bench` subcommands.

Bad input, and output that cannot be written (a full disk, a closed stdout, a missing or read-only folder),
end with one line on stderr and exit status 2; no traceback reaches the user. The line is cut to
``MESSAGE_CHARS`` characters (it says how many more there are); ``--verbose`` prints it whole. A reader that
closes the pipe (``report | head -1``) ends the command quietly with status 0, as ``head`` meant it to.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from analysis import threads
from analysis.errors import AnalysisError, InputError
from analysis.options import (
    NEXT_SCALE,
    OVERRIDE_FIELDS,
    RESAMPLE_UNITS,
    FitSettings,
    ForecastSettings,
    LoadOptions,
    MetricOptions,
    ResampleSettings,
    SweepSettings,
)
from analysis.output import OutputError, check_target, flush_stdout, write_stdout

if TYPE_CHECKING:
    from tui.state import ViewSettings

SUBCOMMANDS = ("report", "simulate", "bench", "serve")
EXIT_BAD_INPUT = 2
MESSAGE_CHARS = 300  # an error line is cut to this many characters unless --verbose


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _scale_factor(text: str) -> tuple[str, float]:
    key, value = _key_value(text)
    try:
        factor = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"scale factor for {key!r} must be a number, got {value!r}"
        ) from None
    return key, factor


def _add_verbose_argument(parser: argparse.ArgumentParser) -> None:
    """The options every command takes: ``--verbose`` and ``--threads`` (read early by ``main``)."""
    parser.add_argument(
        "--verbose",
        action="store_true",
        help=f"print error messages whole (by default they are cut to {MESSAGE_CHARS} characters)",
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="threads the analysis may run at once (default: the cores this process may use; "
        "analysis/threads.py)",
    )


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _threads_in(argv: Sequence[str]) -> int | None:
    """``--threads N`` from the command line before it is parsed (the budget must be set before numpy and
    polars load); a malformed value is left for argparse to report."""
    for i, arg in enumerate(argv):
        text = arg.split("=", 1)[1] if arg.startswith("--threads=") else None
        if arg == "--threads" and i + 1 < len(argv):
            text = argv[i + 1]
        if text is not None and text.isdigit() and int(text) > 0:
            return int(text)
    return None


def _add_load_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reading files")
    group.add_argument(
        "paths", nargs="*", help="result files, directories or globs (default: the sample data)"
    )
    group.add_argument(
        "--map",
        dest="mapping",
        action="append",
        type=_key_value,
        default=[],
        metavar="THEIRS=CANONICAL",
        help="rename a column of your files to a canonical name (repeatable), e.g. --map size=params",
    )
    group.add_argument("--map-file", help="a mapping file with one THEIRS=CANONICAL per line")
    group.add_argument(
        "--format-in",
        choices=["tidy", "lm_eval", "lm_eval_old", "bigbench", "inspect", "helm", "lighteval", "eee", "wide"],
        help="force a reader instead of detecting it from the path",
    )
    group.add_argument(
        "--sizes", dest="sizes_file", help="a CSV of model,params[,tokens] for files that lack sizes"
    )
    group.add_argument(
        "--params-from-name",
        action="store_true",
        help="parse sizes from names like pythia-1.4b or opt-125m (marked nominal)",
    )
    group.add_argument(
        "--params-field",
        choices=["non_embedding", "total", "flop_matched"],
        default="non_embedding",
        help="BIG-bench: which parameter count to use (default non_embedding)",
    )
    group.add_argument("--tokens-per-step", type=float, help="old lm-eval checkpoints: tokens = step x this")
    group.add_argument(
        "--scale",
        dest="scale_factors",
        action="append",
        type=_scale_factor,
        default=[],
        metavar="COLUMN=FACTOR",
        help="multiply a scale column, e.g. --scale params=1e9 for sizes given in billions",
    )
    group.add_argument("--default-family", help="family name for files that name none (default: 'default')")
    group.add_argument(
        "--family-from-name",
        action="store_true",
        help="families from model names where the files name none: pythia-1.4b-deduped -> pythia-deduped, "
        "EleutherAI/gpt-neo-1.3B -> gpt-neo",
    )
    group.add_argument(
        "--null-value",
        dest="null_values",
        action="append",
        default=[],
        metavar="VALUE",
        help="a cell value meaning 'not computed' (repeatable), e.g. --null-value -100",
    )
    group.add_argument(
        "--drop-where",
        dest="drop_where",
        action="append",
        type=_key_value,
        default=[],
        metavar="COLUMN=VALUE",
        help="tables: drop the rows whose COLUMN equals VALUE (repeatable), e.g. --drop-where "
        "epoch_excluded_outlier=1",
    )


def _add_metric_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("metrics")
    group.add_argument(
        "--tokenizer",
        choices=["chars", "whitespace"],
        default="chars",
        help="how text is split into tokens for token_edit_distance (default chars)",
    )
    group.add_argument("--case-fold", action="store_true", help="compare text case-insensitively")
    for name, example, what in (
        ("kind", "exact_match_accuracy=discontinuous", "say a metric is discontinuous or continuous"),
        ("direction", "word_error=lower", "say whether higher or lower is better"),
        ("chance", "acc=0.25", "a metric's chance level"),
        ("partner", "exact_match_accuracy=edit_distance", "a continuous metric to check it against"),
    ):
        group.add_argument(
            f"--{name}",
            dest=f"override_{name}",
            action="append",
            type=_key_value,
            default=[],
            metavar="METRIC=VALUE",
            help=f"{what} (repeatable), e.g. --{name} {example}",
        )


def _add_resample_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("resampling")
    group.add_argument(
        "--bootstrap", type=int, default=1000, metavar="B", help="bootstrap resamples (0: off)"
    )
    group.add_argument("--ci", type=float, default=0.95, metavar="LEVEL", help="CI level (default 0.95)")
    group.add_argument("--seed", type=int, default=0)
    group.add_argument(
        "--subsample", type=int, metavar="N", help="evaluate each model on a random N of its items"
    )
    group.add_argument("--unpaired", action="store_true", help="draw items independently for each model")
    group.add_argument(
        "--resample-unit",
        choices=RESAMPLE_UNITS,
        default="item",
        help="what the bootstrap resamples: items; also each model's seeds/epochs/repeats (seed); or runs, "
        "shared by the checkpoints of one run (run)",
    )


def _add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("resolution sweep")
    group.add_argument(
        "--resolution-sweep",
        action="store_true",
        help="rerun the analysis on seeded subsamples of n' items: at which n' does a jump appear or vanish",
    )
    group.add_argument(
        "--sweep-sizes",
        metavar="K|N1,N2,...",
        help="K sizes log-spaced from 50 to the full n (default 8), or the sizes themselves (the full n is "
        "always one); implies --resolution-sweep",
    )
    group.add_argument(
        "--sweep-repeats",
        type=int,
        metavar="R",
        help="seeded subsamples per size (default 5); implies --resolution-sweep",
    )
    group.add_argument(
        "--sweep-bootstrap",
        type=int,
        metavar="B",
        help="bootstrap replicates of each subsample (default 200); implies --resolution-sweep",
    )


def _add_forecast_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("forecasts")
    group.add_argument(
        "--predict",
        action="append",
        default=[],
        metavar="X|next",
        help="forecast every curve at this scale on the current --x axis, or 'next' (the next decade beyond "
        "each family's largest); repeatable",
    )
    group.add_argument(
        "--calibrate",
        action="store_true",
        help="hold out each curve's largest scale (and largest two), forecast it from the rest, and report "
        "the prediction intervals' coverage and errors against the last value and chance, per metric kind",
    )


def _add_fit_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fits and emergence")
    group.add_argument(
        "--x", choices=["params", "tokens", "flops", "loss"], default="params", help="scale axis"
    )
    group.add_argument("--law", choices=["power", "saturating", "joint", "logistic"], help="law to fit")
    group.add_argument(
        "--holdout", type=int, default=0, metavar="K", help="backtest: hold out the K largest scales"
    )
    group.add_argument(
        "--fit-bootstrap", type=int, default=200, metavar="B", help="bootstrap replicates per fit"
    )
    group.add_argument(
        "--y",
        dest="fit_column",
        help="fit an aggregate column directly (e.g. --y loss --law joint for a Chinchilla-style loss table)",
    )


def load_options_from(args: argparse.Namespace) -> LoadOptions:
    mapping: dict[str, str] = {}
    if (
        args.mapping or args.map_file
    ):  # imported only when needed: it pulls in polars, slowing the first paint
        from analysis.formats.mapping import build_mapping

        pairs = [f"{theirs}={canonical}" for theirs, canonical in args.mapping]
        mapping = build_mapping(pairs, args.map_file)
    return LoadOptions(
        mapping=mapping,
        format_in=args.format_in,
        sizes_file=args.sizes_file,
        params_from_name=args.params_from_name,
        params_field=args.params_field,
        tokens_per_step=args.tokens_per_step,
        scale_factors=dict(args.scale_factors),
        family=args.default_family,
        family_from_name=args.family_from_name,
        null_values=tuple(args.null_values),
        drop_where=tuple(args.drop_where),
    )


def build_parser(command: str | None) -> argparse.ArgumentParser:
    if command == "report":
        parser = argparse.ArgumentParser(
            prog="emergence-tui report",
            description="Points with intervals, fits and emergence verdicts, as text, JSON or CSV.",
        )
        _add_load_arguments(parser)
        filters = parser.add_argument_group("filters")
        filters.add_argument("--task", action="append", default=[], help="only this task (repeatable)")
        filters.add_argument("--metric", action="append", default=[], help="only this metric (repeatable)")
        filters.add_argument("--family", action="append", default=[], help="only this family (repeatable)")
        _add_metric_arguments(parser)
        _add_resample_arguments(parser)
        _add_fit_arguments(parser)
        _add_sweep_arguments(parser)
        _add_forecast_arguments(parser)
        parser.add_argument(
            "--format", choices=["table", "json", "csv", "eee"], default="table", help="output format"
        )
        parser.add_argument(
            "--figure",
            metavar="DIR",
            help="also write one SVG figure per task into DIR (the task view's plots: points with CIs, "
            "fits, chance line; files of the same name are replaced)",
        )
        _add_verbose_argument(parser)
        return parser
    if command == "simulate":
        parser = argparse.ArgumentParser(
            prog="emergence-tui simulate",
            description="Write per-sample rows from the mirage model (docs/science.md section 2).",
        )
        parser.add_argument("--c", type=float, default=1e10, help="scale constant c > 0")
        parser.add_argument(
            "--alpha", type=float, default=-0.4, help="exponent (negative: loss falls with N)"
        )
        parser.add_argument(
            "--params", default="1e7,3e7,1e8,3e8,1e9,3e9,1e10,3e10", help="comma-separated model sizes"
        )
        parser.add_argument("--length", type=int, default=5, help="target length L in tokens")
        parser.add_argument("--choices", type=int, default=4, help="choices K of the multiple-choice task")
        parser.add_argument("--items", type=int, default=1000, help="items n per task and model")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--spread",
            type=float,
            default=0.5,
            help="item difficulty: log-sd of each item's share of the cross-entropy (0: identical items)",
        )
        parser.add_argument(
            "--jump-at",
            type=float,
            default=None,
            help="true emergence: models of this size and larger have their per-token loss divided by "
            "--jump-factor",
        )
        parser.add_argument("--jump-factor", type=float, default=10.0, help="see --jump-at")
        parser.add_argument("--family", default="simulated")
        parser.add_argument(
            "--out", required=True, help="output file (.parquet, .csv or .jsonl); never overwritten"
        )
        _add_verbose_argument(parser)
        return parser
    if command == "serve":
        from tui.serve import DEFAULT_HOST, DEFAULT_PORT

        parser = argparse.ArgumentParser(
            prog="emergence-tui serve",
            description="Serve the app in a web browser (textual-serve), with the app's files and options.",
        )
        _add_app_arguments(parser)
        parser.add_argument(
            "--host",
            default=DEFAULT_HOST,
            help=f"address to listen on (default {DEFAULT_HOST}: this machine only)",
        )
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
        _add_verbose_argument(parser)
        return parser
    parser = argparse.ArgumentParser(
        prog="emergence-tui",
        description=(
            "Open result files in the terminal app (no path: the sample data). "
            "Subcommands: report, simulate, bench, serve (see `emergence-tui report --help`)."
        ),
    )
    _add_app_arguments(parser)
    _add_verbose_argument(parser)
    return parser


def _add_app_arguments(parser: argparse.ArgumentParser) -> None:
    """The app's options (also under ``serve``): what to read and the settings it opens on."""
    _add_load_arguments(parser)
    _add_resample_arguments(parser)
    view = parser.add_argument_group("what the app opens on (keys change them later)")
    view.add_argument(
        "--x", choices=["params", "tokens", "flops", "loss"], default="params", help="scale axis (key x)"
    )
    view.add_argument(
        "--law", choices=["power", "saturating", "joint", "logistic"], help="law to fit (key l)"
    )
    view.add_argument(
        "--holdout", type=int, default=0, choices=range(4), metavar="K", help="backtest: hold out 0-3 (key b)"
    )


def _resample_from(args: argparse.Namespace) -> ResampleSettings:
    """The resampling options (app, serve and report share them), validated by ``ResampleSettings``."""
    return ResampleSettings(
        bootstrap=args.bootstrap,
        ci=args.ci,
        seed=args.seed,
        subsample=args.subsample,
        paired=not args.unpaired,
        unit=args.resample_unit,
    )


def view_settings_from(args: argparse.Namespace) -> ViewSettings:
    """The app's first settings from the command line (``--bootstrap 0`` opens a big input cheaply); the
    settings objects validate every value, with the report's messages."""
    from tui.state import ViewSettings

    resample = _resample_from(args)
    FitSettings(x=args.x, law=args.law, holdout=args.holdout, ci=args.ci, seed=args.seed)  # validates
    return ViewSettings(axis=args.x, law=args.law, holdout=args.holdout, resample=resample)


def error_line(err: Exception, verbose: bool = False) -> str:
    """The one stderr line for ``err``: cut to ``MESSAGE_CHARS`` characters unless ``verbose``."""
    line = f"emergence-tui: {err}"
    if verbose or len(line) <= MESSAGE_CHARS:
        return line
    rest = f"... [cut: --verbose shows all {len(line):,} characters]"
    return line[: MESSAGE_CHARS - len(rest)] + rest


def _say(line: str) -> None:
    """Print ``line`` on stderr, if there is a stderr to print on."""
    stream = sys.stderr
    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError):
        print(line, file=stream, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    threads.configure(_threads_in(argv))
    try:
        code = _run(argv)
        flush_stdout()
        return code
    except (InputError, AnalysisError, OutputError) as err:
        _say(error_line(err, verbose))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except SystemExit:  # argparse after --help or a usage error: its text must reach stdout too
        try:
            flush_stdout()
        except BrokenPipeError:
            return 0
        except OutputError as err:
            _say(error_line(err, verbose))
            return EXIT_BAD_INPUT
        raise


def _run(argv: list[str]) -> int:
    command = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    if command == "bench":
        return run_bench(argv[1:])
    parser = build_parser(command)
    args = parser.parse_args(argv[1:] if command else argv)
    if command == "report":
        return run_report(args)
    if command == "simulate":
        return run_simulate(args)
    if command == "serve":
        from tui.serve import serve

        load_options_from(args)  # a bad --map fails here, once, not in every browser tab
        view_settings_from(args)
        return serve(argv[1:], args.host, args.port)
    settings = view_settings_from(args)  # before the app starts: a bad value is one line and exit 2
    if not os.environ.get("TEXTUAL_DRIVER"):  # a chosen driver (the browser's, under `serve`) needs no tty
        from tui.terminal import require_terminal

        require_terminal()  # from cron or a pipe the app would write escape codes forever
    from tui.app import run_app

    return run_app(args.paths, load_options_from(args), settings=settings) or 0


def _settings_from(args: argparse.Namespace) -> tuple[MetricOptions, ResampleSettings, FitSettings]:
    """The settings of the command line; each object validates its values (``analysis.options``)."""
    return (
        MetricOptions(
            tokenizer=args.tokenizer,
            case_fold=args.case_fold,
            overrides=tuple(
                (metric, name, value)
                for name in OVERRIDE_FIELDS
                for metric, value in getattr(args, f"override_{name}")
            ),
        ),
        _resample_from(args),
        FitSettings(
            x=args.x,
            law=args.law,
            holdout=args.holdout,
            bootstrap=args.fit_bootstrap,
            ci=args.ci,
            seed=args.seed,
        ),
    )


def _sweep_from(args: argparse.Namespace) -> SweepSettings | None:
    """The sweep's settings when ``--resolution-sweep`` or any ``--sweep-*`` option is given."""
    given = {
        name: getattr(args, f"sweep_{name}")
        for name in ("sizes", "repeats", "bootstrap")
        if getattr(args, f"sweep_{name}") is not None
    }
    if not args.resolution_sweep and not given:
        return None
    sizes = given.pop("sizes", None)
    if sizes is not None:
        parts = [part.strip() for part in sizes.split(",") if part.strip()]
        if not parts or not all(part.isdigit() for part in parts):
            raise InputError(
                f"--sweep-sizes: expected a count of sizes (8) or comma-separated item counts "
                f"(100,300,1000), got {sizes!r}"
            )
        if "," in sizes:
            given["sizes"] = tuple(int(part) for part in parts)
        else:
            given["count"] = int(parts[0])
    return SweepSettings(**given)


def _forecasts_from(args: argparse.Namespace) -> ForecastSettings | None:
    """The forecasts' settings when ``--predict`` or ``--calibrate`` is given; a scale that is neither a
    number nor 'next' is one line naming the option."""
    if not args.predict and not args.calibrate:
        return None
    if args.format == "csv" and args.predict and args.calibrate:
        raise InputError("--format csv writes one table: give --predict or --calibrate, not both")
    scales: list[float | str] = []
    for text in args.predict:
        word = text.strip().lower()
        if word == NEXT_SCALE:
            scales.append(NEXT_SCALE)
            continue
        try:
            scales.append(float(word))
        except ValueError:
            raise InputError(
                f"--predict {text!r}: expected a number on the --x axis (such as 1e10) or 'next'"
            ) from None
    return ForecastSettings(scales=tuple(dict.fromkeys(scales)))


def run_report(args: argparse.Namespace) -> int:
    """Load, analyse and print; the same stages the app runs."""
    from analysis.by_task import TaskPipeline, task_source
    from analysis.loading import load, require_placed
    from analysis.pipeline import Pipeline, metric_options_for
    from analysis.report import ReportFilters, render_report
    from tui.inputs import default_paths

    metric_options, resample, fit = _settings_from(args)
    sweep = _sweep_from(args)
    if args.figure:  # before the work: a folder that cannot be written fails fast
        from analysis.output import require_writable_folder

        require_writable_folder(Path(args.figure), "--figure")
    forecasts = _forecasts_from(args)
    options = load_options_from(args)
    paths = default_paths(args.paths)
    filters = ReportFilters(tasks=tuple(args.task), metrics=tuple(args.metric), families=tuple(args.family))
    metric_options = metric_options_for(metric_options, filters.metrics)
    # a large per-sample Parquet file is read and analysed a task at a time (analysis.by_task); the
    # resolution sweep reads every item again per subsample, so it loads the file whole
    source = None if sweep is not None else task_source(paths, options)
    if source is not None:
        chosen = filters.by_task() if filters.tasks or filters.families else None
        pipeline: Pipeline = TaskPipeline(source, chosen, None if chosen is None else chosen.finish)
    else:
        table = load(paths, options)
        require_placed(table, options)
        pipeline = Pipeline(filters.apply_to_table(table))
    analysis = pipeline.run(
        metric_options,
        resample,
        fit,
        fit_column=args.fit_column,
        sweep=sweep,
        forecasts=forecasts,
        calibrate=args.calibrate,
    )
    write_stdout(render_report(analysis, args.format, filters))
    if args.figure:
        from tui.figure import write_report_figures
        from tui.state import ViewSettings

        view = ViewSettings(axis=args.x, law=args.law, holdout=args.holdout, resample=resample)
        written = write_report_figures(analysis, args.figure, view, tuple(args.metric))
        if sys.stderr is not None:  # stdout holds the report (maybe JSON); the files are named on stderr
            _say(f"wrote {len(written)} figure(s) to {args.figure}")
    return 0


def run_bench(argv: Sequence[str]) -> int:
    """``python -m benchmarks ARGS`` in a child process, its exit status passed on.

    The benchmark measures the app from outside (it imports ``tui``), so the app never imports the benchmark:
    the arrow between the packages runs one way only.
    """
    import subprocess

    from analysis.output import require_writable_folder

    argv = list(argv)
    for i, arg in enumerate(argv):  # the cache folder is checked up front, in this process, with the rule the
        folder = arg.removeprefix("--cache-dir=") if arg.startswith("--cache-dir=") else None  # bench uses
        if arg == "--cache-dir" and i + 1 < len(argv):
            folder = argv[i + 1]
        if folder:
            require_writable_folder(Path(folder), "--cache-dir")
    try:
        return subprocess.call([sys.executable, "-m", "benchmarks", *argv])
    except KeyboardInterrupt:
        return 130
    except OSError as err:
        raise InputError(
            f"cannot start the benchmark ({sys.executable} -m benchmarks): {err.strerror}"
        ) from err


def run_simulate(args: argparse.Namespace) -> int:
    """Write the mirage model's per-sample rows to a new file (whole or not at all, never over a file)."""
    from analysis.simulate import simulate, write_samples

    out = Path(args.out)
    check_target(out, overwrite=False)  # before the work: a missing folder or an existing file fails fast
    try:
        params = [float(p) for p in args.params.split(",") if p.strip()]
    except ValueError:
        raise InputError(f"--params: expected comma-separated numbers, got {args.params!r}") from None
    frame = simulate(
        c=args.c,
        alpha=args.alpha,
        params=params,
        length=args.length,
        choices=args.choices,
        items=args.items,
        seed=args.seed,
        family=args.family,
        spread=args.spread,
        jump_at=args.jump_at,
        jump_factor=args.jump_factor if args.jump_at is not None else 1.0,
    )
    write_samples(frame, out, overwrite=False)
    if sys.stdout is not None:  # the file is the result; a closed stdout only loses this confirmation
        print(f"wrote {frame.height} rows to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
