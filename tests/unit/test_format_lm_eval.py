"""lm-eval 0.4.x reader: folders of results/samples files written here in the harness's layout."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analysis.errors import InputError
from analysis.formats import lm_eval
from analysis.options import LoadOptions


def results_json(model: str, tasks: dict[str, dict], *, params=1000, shots=0, n=4, tokens=None) -> dict:
    config = {"model": "hf", "model_args": f"pretrained={model}", "model_num_parameters": params}
    if tokens is not None:
        config["training_tokens"] = tokens
    return {
        "results": {task: {"alias": task, **metrics} for task, metrics in tasks.items()},
        "n-shot": {task: shots for task in tasks},
        "n-samples": {task: {"original": n, "effective": n} for task in tasks},
        "config": config,
        "model_name": model,
    }


def write_run(folder: Path, stamp: str, data: dict, samples: dict[str, list[dict]] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"results_{stamp}.json").write_text(json.dumps(data))
    for task, records in (samples or {}).items():
        lines = "\n".join(json.dumps(r) for r in records)
        (folder / f"samples_{task}_{stamp}.jsonl").write_text(lines + "\n")


def mc_record(doc_id: int, logliks: list[float], target, acc: float, choices=None) -> dict:
    choices = choices or [f"c{i}" for i in range(len(logliks))]
    return {
        "doc_id": doc_id,
        "doc": {"choices": choices},
        "target": target,
        "arguments": {f"gen_args_{i}": {"arg_0": "q", "arg_1": f" {c}"} for i, c in enumerate(choices)},
        "filtered_resps": [[str(x), "False"] for x in logliks],
        "filter": "none",
        "metrics": ["acc"],
        "acc": acc,
    }


def gen_record(doc_id: int, target: str, prediction: str, em: float, filter_name: str = "none") -> dict:
    return {
        "doc_id": doc_id,
        "target": target,
        "resps": [[prediction + " tail"]],
        "filtered_resps": [prediction],
        "filter": filter_name,
        "metrics": ["exact_match"],
        "exact_match": em,
    }


STAMP_OLD = "2024-01-01T10-00-00.000001"
STAMP_NEW = "2024-02-01T10-00-00.000001"


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    mc = {"acc,none": 0.5, "acc_stderr,none": 0.25, "acc_norm,none": 0.75, "acc_norm_stderr,none": "N/A"}
    records = [
        mc_record(0, [-1.0, -2.0, -3.0], "0", 1.0),
        mc_record(1, [-1.0, -0.5, -3.0], "2", 0.0),
        mc_record(2, [-4.0, -0.5, -3.0], "1", 1.0),
        mc_record(3, [-1.0, -2.0, -0.1], 0, 0.0),
    ]
    write_run(
        out / "org__small",
        STAMP_NEW,
        results_json("org/small", {"mc": mc}, params=1e6, tokens=2e9),
        {"mc": records},
    )
    write_run(out / "org__small", STAMP_OLD, results_json("org/small", {"mc": {"acc,none": 0.1}}, params=1e6))
    gen = {
        "exact_match,strict-match": 0.25,
        "exact_match_stderr,strict-match": 0.1,
        "exact_match,flexible-extract": 0.5,
        "exact_match_stderr,flexible-extract": "N/A",
    }
    write_run(out / "org__big", STAMP_NEW, results_json("org/big", {"gen": gen}, params=1e9))
    return out


def test_sniff(output_dir: Path, tmp_path: Path) -> None:
    assert lm_eval.sniff(output_dir)
    assert lm_eval.sniff(output_dir / "org__small")
    assert lm_eval.sniff(output_dir / "org__small" / f"results_{STAMP_NEW}.json")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"results": {"t": {"acc": 0.5, "acc_stderr": 0.1}}}))
    assert not lm_eval.sniff(old)
    assert not lm_eval.sniff(tmp_path / "nothing_here")


def test_folder_newest_run_samples_and_aggregates(output_dir: Path) -> None:
    table = lm_eval.read(output_dir, LoadOptions())
    # the older run of org/small (acc 0.1) is dropped and named in a warning
    assert any("older run" in w and "mc" in w for w in table.warnings)
    samples = table.samples.filter(pl.col("model") == "org/small").sort("item")
    assert samples["item"].to_list() == ["0", "1", "2", "3"]
    assert samples["choice_logliks"].to_list()[1] == [-1.0, -0.5, -3.0]
    assert samples["correct_choice"].to_list() == [0, 2, 1, 0]
    assert samples["acc"].to_list() == [1.0, 0.0, 1.0, 0.0]
    assert samples["params"].unique().to_list() == [1e6]
    assert samples["tokens"].unique().to_list() == [2e9]
    assert table.prescored == ("acc",)
    aggregates = table.aggregates
    # acc comes from the samples, so no aggregate row for it; acc_norm stays with stderr "N/A" -> null
    small = aggregates.filter(pl.col("model") == "org/small")
    assert small["metric"].to_list() == ["acc_norm"]
    assert small["value"].to_list() == [0.75]
    assert small["stderr"].to_list() == [None]
    assert small["n"].to_list() == [4]
    big = aggregates.filter(pl.col("model") == "org/big").sort("metric")
    assert big["metric"].to_list() == ["exact_match[flexible-extract]", "exact_match[strict-match]"]
    assert big["value"].to_list() == [0.5, 0.25]
    assert big["stderr"].to_list() == [None, 0.1]
    assert big["params"].to_list() == [1e9, 1e9]
    assert aggregates.schema["params"] == pl.Float64
    assert set(table.families) == {"default"}


def test_cross_check_warns_when_samples_disagree(tmp_path: Path) -> None:
    records = [mc_record(i, [-1.0, -2.0], "0", 1.0) for i in range(4)]
    write_run(tmp_path / "m", STAMP_NEW, results_json("m", {"mc": {"acc,none": 0.5}}), {"mc": records})
    table = lm_eval.read(tmp_path, LoadOptions())
    assert any("differs" in w and "acc" in w for w in table.warnings)
    assert table.aggregates.is_empty()


def test_string_target_is_matched_among_choices(tmp_path: Path) -> None:
    records = [mc_record(0, [-3.0, -1.0, -2.0], "beta", 1.0, choices=["alpha", "beta", "gamma"])]
    write_run(tmp_path / "m", STAMP_NEW, results_json("m", {"mc": {"acc,none": 1.0}}, n=1), {"mc": records})
    table = lm_eval.read(tmp_path, LoadOptions())
    assert table.samples["correct_choice"].to_list() == [1]


def test_generation_with_two_filters_keeps_both_scores_and_warns(tmp_path: Path) -> None:
    records = [
        gen_record(0, "12", "12", 1.0, "strict-match"),
        gen_record(1, "7", "[invalid]", 0.0, "strict-match"),
        gen_record(0, "12", "12", 1.0, "flexible-extract"),
        gen_record(1, "7", "7", 1.0, "flexible-extract"),
    ]
    data = results_json(
        "m", {"gen": {"exact_match,strict-match": 0.5, "exact_match,flexible-extract": 1.0}}, n=2
    )
    write_run(tmp_path / "m", STAMP_NEW, data, {"gen": records})
    table = lm_eval.read(tmp_path, LoadOptions())
    samples = table.samples.sort("item")
    assert samples.height == 2  # items are not doubled by the second filter
    assert samples["prediction"].to_list() == ["12", "[invalid]"]  # first filter in the file
    assert samples["target"].to_list() == ["12", "7"]
    assert samples["exact_match[strict-match]"].to_list() == [1.0, 0.0]
    assert samples["exact_match[flexible-extract]"].to_list() == [1.0, 1.0]
    assert table.aggregates.is_empty()
    assert any("filters strict-match, flexible-extract" in w for w in table.warnings)


def test_fewer_records_than_declared_loads_and_warns(tmp_path: Path) -> None:
    records = [gen_record(0, "1", "1", 1.0)]
    write_run(
        tmp_path / "m",
        STAMP_NEW,
        results_json("m", {"gen": {"exact_match,none": 0.3}}, n=10),
        {"gen": records},
    )
    table = lm_eval.read(tmp_path, LoadOptions())
    assert table.samples.height == 1
    assert any("1 records but n-samples says 10" in w for w in table.warnings)


def test_several_shot_settings_fold_into_the_task(tmp_path: Path) -> None:
    write_run(tmp_path / "m", STAMP_OLD, results_json("m", {"t": {"acc,none": 0.2}}, shots=0))
    write_run(tmp_path / "m", STAMP_NEW, results_json("m", {"t": {"acc,none": 0.4}}, shots=5))
    table = lm_eval.read(tmp_path, LoadOptions())
    got = dict(zip(table.aggregates["task"], table.aggregates["value"], strict=True))
    assert got == {"t 0-shot": 0.2, "t 5-shot": 0.4}
    assert not any("older run" in w for w in table.warnings)


def test_truncated_results_file_raises_one_line(tmp_path: Path) -> None:
    bad = tmp_path / f"results_{STAMP_NEW}.json"
    bad.write_text('{"results": {"t": {"acc,none": 0.5')
    with pytest.raises(InputError) as err:
        lm_eval.read(bad, LoadOptions())
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


def test_missing_results_key_raises(tmp_path: Path) -> None:
    bad = tmp_path / f"results_{STAMP_NEW}.json"
    bad.write_text(json.dumps({"config": {}}))
    with pytest.raises(InputError, match="no 'results'"):
        lm_eval.read(bad, LoadOptions())


def test_bad_samples_line_names_file_and_line(tmp_path: Path) -> None:
    write_run(tmp_path, STAMP_NEW, results_json("m", {"gen": {"exact_match,none": 0.5}}, n=2))
    samples = tmp_path / f"samples_gen_{STAMP_NEW}.jsonl"
    samples.write_text(json.dumps(gen_record(0, "1", "1", 1.0)) + "\n{not json\n")
    with pytest.raises(InputError) as err:
        lm_eval.read(samples, LoadOptions())
    assert f"{samples} line 2" in str(err.value)


def test_folder_with_bad_files_loads_good_ones_and_lists_bad(output_dir: Path) -> None:
    broken = output_dir / "org__broken"
    broken.mkdir()
    (broken / f"results_{STAMP_NEW}.json").write_text('{"results": ')
    bad_samples_dir = output_dir / "org__badsamples"
    write_run(bad_samples_dir, STAMP_NEW, results_json("org/bs", {"gen": {"exact_match,none": 0.5}}, n=2))
    (bad_samples_dir / f"samples_gen_{STAMP_NEW}.jsonl").write_text("oops\n")
    table = lm_eval.read(output_dir, LoadOptions())
    assert set(table.aggregates["model"].unique()) == {"org/small", "org/big", "org/bs"}
    skipped = [w for w in table.warnings if w.startswith("skipped")]
    assert any("org__broken" in w for w in skipped)
    assert any("line 1" in w for w in skipped)
    # the task with unreadable samples keeps its aggregate row
    assert table.aggregates.filter(pl.col("model") == "org/bs")["value"].to_list() == [0.5]


# ------------------------------------------------------------------------ layouts of older and newer runs


def test_indented_json_array_under_jsonl_name_without_filter_fields(tmp_path: Path) -> None:
    """0.4.0-0.4.2: one indented JSON array, arguments as [context, continuation] pairs, no "filter" or
    "metrics" fields, and each doc_id repeated once per filter in the results' order."""
    data = results_json(
        "m", {"gen": {"exact_match,strict-match": 0.5, "exact_match,flexible-extract": 1.0}}, n=2
    )
    folder = tmp_path / "m"
    write_run(folder, STAMP_NEW, data)
    records = []
    for predictions in (["12", "[invalid]"], ["12", "7"]):  # strict-match's records, then flexible-extract's
        for doc_id, (target, prediction) in enumerate(zip(["12", "7"], predictions, strict=True)):
            em = float(prediction == target)
            records.append(
                {
                    "doc_id": doc_id,
                    "doc": {"question": "q"},
                    "target": target,
                    "arguments": [["q", {"until": ["\n"]}]],
                    "resps": [[prediction]],
                    "filtered_resps": [prediction],
                    "exact_match": em,
                }
            )
    (folder / f"samples_gen_{STAMP_NEW}.jsonl").write_text(json.dumps(records, indent=2))
    table = lm_eval.read(tmp_path, LoadOptions())
    samples = table.samples.sort("item")
    assert samples["exact_match[strict-match]"].to_list() == [1.0, 0.0]
    assert samples["exact_match[flexible-extract]"].to_list() == [1.0, 1.0]
    assert samples["prediction"].to_list() == ["12", "[invalid]"]
    assert table.aggregates.is_empty()  # both filters' means match the results, so both are covered


def test_old_multiple_choice_arguments_and_string_leaves(tmp_path: Path) -> None:
    record = {
        "doc_id": "0",
        "doc": {"q": "x"},
        "target": "1",
        "arguments": [["x", " a"], ["x", " b"]],
        "resps": [[["-2.5", "False"]], [["-0.5", "True"]]],
        "filtered_resps": [["-2.5", "False"], ["-0.5", "True"]],
        "acc": "True",
        "acc_norm": "1.0",
    }
    write_run(
        tmp_path / "m", STAMP_NEW, results_json("m", {"mc": {"acc,none": 1.0, "acc_norm,none": 1.0}}, n=1)
    )
    (tmp_path / "m" / f"samples_mc_{STAMP_NEW}.jsonl").write_text(json.dumps([record], indent=1))
    table = lm_eval.read(tmp_path, LoadOptions())
    row = table.samples.row(0, named=True)
    assert row["choice_logliks"] == [-2.5, -0.5] and row["correct_choice"] == 1
    assert (row["acc"], row["acc_norm"]) == (1.0, 1.0)
    assert table.aggregates.is_empty()


def test_json_lines_under_a_json_name(tmp_path: Path) -> None:
    """Mid-2024 runs (and the Open LLM Leaderboard v2 details) name JSON Lines samples_<task>_<date>.json."""
    records = [mc_record(i, [-1.0, -2.0 + i], "0", float(i == 0)) for i in range(2)]
    write_run(tmp_path / "m", STAMP_NEW, results_json("m", {"mc": {"acc,none": 0.5}}, n=2))
    lines = "\n".join(json.dumps(r) for r in records) + "\n"
    samples = tmp_path / "m" / f"samples_mc_{STAMP_NEW}.json"
    samples.write_text(lines)
    table = lm_eval.read(tmp_path, LoadOptions())
    assert table.samples.sort("item")["acc"].to_list() == [1.0, 0.0]
    assert lm_eval.sniff(samples)
    alone = lm_eval.read(samples, LoadOptions())  # named on its own: the model comes from the results file
    assert alone.samples["model"].unique().to_list() == ["m"]


def test_results_of_0_4_12_with_name_and_sample_len(tmp_path: Path) -> None:
    data = {
        "results": {
            "a": {"name": "a", "alias": "a", "sample_len": 8, "acc,none": 0.25, "acc_stderr,none": 0.1},
            "b": {"name": "b", "alias": "b", "sample_len": 6, "exact_match,strict": 0.5},
        },
        "n-samples": {"a": {"original": 10, "effective": 8}},
        "config": {"model": "dummy"},
        "model_name": "m",
    }
    (tmp_path / f"results_{STAMP_NEW}.json").write_text(json.dumps(data))
    table = lm_eval.read(tmp_path / f"results_{STAMP_NEW}.json", LoadOptions())
    rows = table.aggregates.sort("task").select("task", "metric", "value", "n").rows()
    assert rows == [
        ("a", "acc", 0.25, 8),
        ("b", "exact_match[strict]", 0.5, 6),
    ]  # n: effective, else sample_len
