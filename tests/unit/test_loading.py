"""Loading tidy files, directories and globs into the canonical table, including real public files."""

from __future__ import annotations

import polars as pl
import pytest

from analysis import schema
from analysis.errors import InputError
from analysis.formats import registry
from analysis.formats.finalize import finalize
from analysis.formats.mapping import parse_map_args
from analysis.formats.model_sizes import params_from_name
from analysis.loading import load
from analysis.options import LoadOptions
from analysis.schema import ResultTable
from tests.conftest import SHARED_DATA, file_digest, needs_shared_data

PER_SAMPLE_CSV = """\
model,task,item,params,tokens,target,prediction,target_logprobs,choice_logliks,correct_choice,acc
m1,add,1,1e6,2e7,042,042,"[-0.1, -2.3]","[-0.5, -1.5]",0,1
m1,add,2,1e6,2e7,17,71,"[-1.0]","[-2.0, -0.1]",0,0
m2,add,1,1e7,,042,42,"[-0.05]","[-0.1, -3.0]",1,1
"""


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pythia-1.4b", 1.4e9),
        ("pythia-160m-deduped", 1.6e8),
        ("opt-125m", 1.25e8),
        ("llama-7b", 7e9),
        ("bloom-1b1", 1.1e9),
        ("bloom-560m", 5.6e8),
        ("1b1", 1.1e9),
        ("Llama-2-13B-hf", 1.3e10),
        ("tiny-3.8k", 3.8e3),
        ("gpt2-xl", None),
        ("qwen2.5", None),
        ("mixtral-8x7b", None),
        ("tinygpt-3792", None),
    ],
)
def test_params_from_name(name: str, expected: float | None) -> None:
    assert params_from_name(name) == (pytest.approx(expected) if expected else None)


def test_per_sample_csv_loads_with_lists_text_and_prescored(write_file) -> None:
    path = write_file("s.csv", PER_SAMPLE_CSV)
    table = load([path])
    samples = table.samples
    assert samples.height == 3 and table.aggregates.is_empty()
    assert samples[schema.FAMILY].unique().to_list() == [schema.DEFAULT_FAMILY]
    assert samples[schema.TARGET].to_list() == ["042", "17", "042"]  # text stays text: no lost zero
    assert samples[schema.TARGET_LOGPROBS].to_list()[0] == [-0.1, -2.3]
    assert samples.schema[schema.CHOICE_LOGLIKS] == pl.List(pl.Float64)
    assert samples.schema[schema.CORRECT_CHOICE] == pl.Int64
    assert table.prescored == ("acc",)
    assert samples[schema.FLOPS].to_list() == [6 * 1e6 * 2e7, 6 * 1e6 * 2e7, None]
    assert all(samples.schema[c] == pl.Float64 for c in schema.SCALES)


def test_aggregate_counts_give_value_and_shots_fold_into_task(write_file) -> None:
    path = write_file(
        "agg.csv", "model,operation,shots,n,n_correct,params\nm,add,0,50,5,1e9\nm,add,2,50,10,1e9\n"
    )
    table = load([path], LoadOptions(mapping={"operation": "task"}, family="pythia"))
    rows = table.aggregates.sort(schema.TASK)
    assert rows[schema.TASK].to_list() == ["add 0-shot", "add 2-shot"]
    assert rows[schema.VALUE].to_list() == [0.1, 0.2]
    assert rows[schema.METRIC].to_list() == ["accuracy", "accuracy"]
    assert rows[schema.FAMILY].to_list() == ["pythia", "pythia"]
    assert rows.schema[schema.N] == pl.Int64


def test_value_column_without_metric_is_named_after_its_source(write_file) -> None:
    path = write_file("w.csv", "model,task,em\nm,t,0.25\n")
    table = load([path], LoadOptions(mapping={"em": "value"}))
    assert table.aggregates.row(0, named=True)[schema.METRIC] == "em"


def test_parquet_and_jsonl_hold_native_lists(tmp_path) -> None:
    frame = pl.DataFrame(
        {
            "model": ["a", "b"],
            "task": ["t", "t"],
            "item": ["0", "0"],
            "choice_logliks": [[-1.0, -2.0], [-0.5, -0.2]],
            "correct_choice": [0, 1],
        }
    )
    frame.write_parquet(tmp_path / "x.parquet")
    frame.write_ndjson(tmp_path / "x.jsonl")
    for name in ("x.parquet", "x.jsonl"):
        table = load([tmp_path / name])
        assert table.samples[schema.CHOICE_LOGLIKS].to_list() == [[-1.0, -2.0], [-0.5, -0.2]]


def test_directory_loads_good_files_and_warns_about_bad_ones(write_file, tmp_path) -> None:
    write_file("runs/a.csv", "model,task,metric,value\nm1,t,acc,0.5\n")
    write_file("runs/sub/b.csv", "model,task,metric,value\nm2,t,acc,0.7\n")
    write_file("runs/notes.md", "# notes\n")
    write_file("runs/table.xlsx", "not a format we read\n")
    write_file("runs/broken.csv", "model,task,metric,value\nm3,t,acc,oops\n")
    write_file("runs/.hidden.csv", "junk\n")
    table = load([tmp_path / "runs"])
    assert sorted(table.aggregates[schema.MODEL].to_list()) == ["m1", "m2"]
    assert any("table.xlsx" in w and "not a result file" in w for w in table.warnings)
    assert not any("notes.md" in w for w in table.warnings)  # documents pass quietly
    assert any("broken.csv" in w and "'oops' is not a number" in w for w in table.warnings)
    assert not any(".hidden" in w for w in table.warnings)
    assert any("'m1' has no params" in w for w in table.warnings)  # allowed, but the user is told


def test_glob_and_several_files_concatenate(write_file, tmp_path) -> None:
    write_file("a.csv", "model,task,metric,value,params\nm1,t,acc,0.5,1e6\n")
    write_file("b.csv", "model,task,metric,value,params,stderr\nm2,t,acc,0.7,1e7,0.01\n")
    table = load([str(tmp_path / "*.csv")])
    assert table.aggregates.sort(schema.MODEL)[schema.STDERR].to_list() == [None, 0.01]
    assert len(table.sources) == 2


def test_sizes_file_overrides_and_names_fill_missing(write_file) -> None:
    results = write_file(
        "r.csv", "model,task,metric,value,params\npythia-1.4b,t,acc,0.5,\nopt-125m,t,acc,0.4,3\n"
    )
    sizes = write_file("sizes.csv", "model,params,tokens\nopt-125m,125000000,3e11\n")
    table = load([results], LoadOptions(sizes_file=str(sizes), params_from_name=True))
    rows = {r[schema.MODEL]: r for r in table.aggregates.iter_rows(named=True)}
    assert rows["opt-125m"][schema.PARAMS] == 1.25e8 and not rows["opt-125m"][schema.NOMINAL]
    assert rows["opt-125m"][schema.FLOPS] == pytest.approx(6 * 1.25e8 * 3e11)
    assert rows["pythia-1.4b"][schema.PARAMS] == pytest.approx(1.4e9) and rows["pythia-1.4b"][schema.NOMINAL]
    assert any("nominal" in w and "pythia-1.4b" in w for w in table.warnings)


def test_scale_factors_multiply_the_results_scales(write_file) -> None:
    path = write_file("r.csv", "model,task,metric,value,params\nm,t,acc,0.5,1.4\n")
    table = load([path], LoadOptions(scale_factors={"params": 1e9}))
    assert table.aggregates[schema.PARAMS].to_list() == [pytest.approx(1.4e9)]


def test_finalize_is_the_shared_step_for_readers() -> None:
    raw = pl.DataFrame({"model": ["m"], "task": ["t"], "metric": ["acc"], "n": [10], "n_correct": [3]})
    table = finalize(ResultTable(aggregates=raw), LoadOptions(family="fam"), "reader-output")
    row = table.aggregates.row(0, named=True)
    assert row[schema.VALUE] == pytest.approx(0.3) and row[schema.FAMILY] == "fam"
    assert set(schema.SCALES) <= set(table.aggregates.columns)


def test_registry_picks_tidy_for_tables_and_knows_forced_names(write_file) -> None:
    path = write_file("x.csv", "model,task,metric,value\nm,t,acc,1\n")
    assert registry.reader_for(path).NAME in {"tidy", "wide"}
    assert registry.reader_for(path, "tidy").NAME == "tidy"
    assert "tidy" in [module.NAME for module in registry.READERS]
    with pytest.raises(InputError, match=r"--format-in nope: no such reader; use one of: .*tidy"):
        registry.reader_for(path, "nope")


@needs_shared_data
def test_real_pythia_arithmetic_counts_through_map() -> None:
    path = SHARED_DATA / "pythia_arithmetic" / "tidy.csv"
    before = file_digest(path)
    mapping = parse_map_args(["params_total=params", "operation=task", "step=family"])
    table = load([path], LoadOptions(mapping=mapping))
    assert file_digest(path) == before  # the user's file is untouched
    aggregates = table.aggregates
    assert aggregates.height == 420
    first = aggregates.filter(
        (pl.col(schema.FAMILY) == "13000")
        & (pl.col(schema.MODEL) == "pythia-160m-deduped")
        & (pl.col(schema.TASK) == "addition 0-shot")
    ).row(0, named=True)
    assert first[schema.VALUE] == pytest.approx(1 / 5000) and first[schema.N] == 5000
    assert first[schema.PARAMS] == 162322944.0
    assert sorted(aggregates[schema.FAMILY].unique().to_list(), key=int)[-1] == "143000"


@needs_shared_data
def test_real_pythia_arithmetic_without_step_mapping_says_which_column_differs() -> None:
    path = SHARED_DATA / "pythia_arithmetic" / "tidy.csv"
    mapping = parse_map_args(["params_total=params", "operation=task"])
    with pytest.raises(
        InputError, match=r"tidy.csv: row 1 and row \d+ repeat .* column 'step' tells them apart"
    ):
        load([path], LoadOptions(mapping=mapping))


@needs_shared_data
def test_real_ukp_runs_through_map() -> None:
    """Aggregate rows per run: the three seeds repeat model x task, and the error says so (naming seed)."""
    path = SHARED_DATA / "ukp_on_emergence" / "tidy.csv"
    before = file_digest(path)
    mapping = parse_map_args(["params_nominal=params", "exact_match_accuracy=value"])
    with pytest.raises(InputError, match=r"tidy.csv: row 1 and row 2 repeat .*model='gpt2'.* column 'seed'"):
        load([path], LoadOptions(mapping=mapping))
    mapping = parse_map_args(["params_nominal=params", "exact_match_accuracy=value", "run_id=item"])
    # each run as an "item" of pre-scored rows: the file really does hold one run twice, and that is caught
    with pytest.raises(InputError, match=r"row 4329 and row 4330 repeat .*item='20230608_195040'; drop the"):
        load([path], LoadOptions(mapping=mapping))
    assert file_digest(path) == before


def test_params_nominal_holding_counts_becomes_nominal_params(write_file) -> None:
    """Published tables (lm_eval_2023, ukp) put name-stated parameter counts in a params_nominal column."""
    counts = write_file(
        "c.csv", "model,task,metric,value,params_nominal\nbloom-560m,t,acc,0.5,560000000\nx,t,acc,0.4,\n"
    )
    table = load([counts])
    rows = {r[schema.MODEL]: r for r in table.aggregates.iter_rows(named=True)}
    assert rows["bloom-560m"][schema.PARAMS] == 5.6e8 and rows["bloom-560m"][schema.NOMINAL]
    assert rows["x"][schema.PARAMS] is None and not rows["x"][schema.NOMINAL]
    assert any("holds parameter counts" in w for w in table.warnings)
    flags = write_file(
        "f.csv", "model,task,metric,value,params,params_nominal\nm,t,acc,0.5,1e6,true\nn,t,acc,0.5,2e6,0\n"
    )
    assert load([flags]).aggregates.sort(schema.MODEL)[schema.NOMINAL].to_list() == [True, False]
    both = write_file("b.csv", "model,task,metric,value,params,params_nominal\nm,t,acc,0.5,1e6,7e9\n")
    with pytest.raises(InputError, match=r"b\.csv: column params_nominal should be true/false"):
        load([both])


def test_forced_tidy_on_an_unlisted_suffix_reads_csv_and_a_ragged_one_is_a_message(write_file) -> None:
    """`--format-in tidy` reads a .txt as CSV; a ragged one is an InputError naming the file, not a crash."""
    from analysis.errors import InputError
    from analysis.options import LoadOptions

    good = write_file("scores.txt", "model,task,metric,value,params\nm1,t,acc,0.5,1e6\n")
    table = load([good], LoadOptions(format_in="tidy"))
    assert table.aggregates[schema.VALUE].to_list() == [0.5]
    ragged = write_file("ragged.txt", "model,task,metric,value\nm1,t,acc,0.5,9,9,9\nm2\n")
    with pytest.raises(InputError, match=r"ragged\.txt"):
        load([ragged], LoadOptions(format_in="tidy"))


def test_checks_run_together_but_fail_in_their_order() -> None:
    """The per-sample checks run at once; a file with several problems still gets the first one's message."""
    from analysis.formats.finalize import _run_checks

    ran = []

    def fails(message: str):
        def check() -> None:
            ran.append(message)
            raise InputError(message)

        return check

    with pytest.raises(InputError, match=r"^first$"):
        _run_checks(lambda: ran.append("ok"), fails("first"), fails("second"))
    assert sorted(ran) == ["first", "ok", "second"]
