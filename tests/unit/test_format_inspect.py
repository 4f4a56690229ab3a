"""Inspect AI logs: the real files in ../shared/data/inspect, fresh logs made by inspect_ai itself (mockllm,
zstd members, several epochs, several "sizes"), and malformed logs made here."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import polars as pl
import pytest

from analysis.errors import InputError
from analysis.formats import inspect_logs
from analysis.loading import load
from analysis.options import LoadOptions
from tests.conftest import SHARED_DATA, needs_shared_data
from tests.format_helpers import cell, one_line_error, skipped

RAW = SHARED_DATA / "inspect" / "raw"
POPULARITY_SCORED = RAW / "2025-02-11T15-18-04-05-00_popularity_mj7khqpMM4GBCfVQozKgzB.eval"
POPULARITY_UNSCORED = RAW / "2025-02-11T15-17-00-05-00_popularity_dPiJifoWeEQBrfWsAopzWr.eval"


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(path: Path, contents: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return path


# ------------------------------------------------------------------------------------------ the value map


def test_values_map_as_inspects_own_value_to_float() -> None:
    from inspect_ai.scorer import value_to_float  # the real library's function

    theirs = value_to_float()
    for value in ["C", "I", "P", "N", "yes", "No", "TRUE", "false", "0.25", 3, 0.5, True, False]:
        assert inspect_logs.value_to_float(value, "here", Path("x")) == theirs(value), value
    with pytest.raises(InputError, match=r"x: here: unknown score value 'maybe'"):
        inspect_logs.value_to_float("maybe", "here", Path("x"))


# ------------------------------------------------------------------------------------------ real files


@needs_shared_data
def test_real_json_logs_match_their_samples_and_results() -> None:
    table = inspect_logs.read(RAW / "data_arc_qwen.json")
    raw = json.loads((RAW / "data_arc_qwen.json").read_text())
    to_number = {"C": 1.0, "I": 0.0}
    for sample in raw["samples"]:
        row = table.samples.filter(pl.col("item") == str(sample["id"]))
        assert row["choice"].item() == to_number[sample["scores"]["choice"]["value"]]
        assert row["target"].item() == sample["target"]
        assert row["prediction"].item() == sample["scores"]["choice"]["answer"]
    accuracy = raw["results"]["scores"][0]["metrics"]["accuracy"]["value"]
    assert table.samples["choice"].mean() == pytest.approx(accuracy)  # 1/3 for qwen
    assert set(table.samples["model"]) == {"ollama/qwen2.5:0.5b"}
    assert set(table.samples["task"]) == {"inspect_evals/arc_easy"}
    assert table.prescored == ("choice",)
    assert table.aggregates.is_empty()  # the scorer's accuracy is the mean of the per-sample rows


@needs_shared_data
def test_real_eval_log_is_read_from_header_and_summaries() -> None:
    table = inspect_logs.read(POPULARITY_SCORED)
    summaries = json.loads(members(POPULARITY_SCORED)["summaries.json"])
    header = json.loads(members(POPULARITY_SCORED)["header.json"])
    assert table.samples.height == len(summaries) == 10
    for summary in summaries[:4]:
        expected = {"C": 1.0, "I": 0.0}[summary["scores"]["match"]["value"]]
        assert cell(table.samples, "match", item=str(summary["id"])) == expected
    accuracy = header["results"]["scores"][0]["metrics"]["accuracy"]["value"]
    assert table.samples["match"].mean() == pytest.approx(accuracy) == pytest.approx(0.8)


@needs_shared_data
def test_samples_are_opened_only_for_logs_without_scores(tmp_path: Path) -> None:
    # a scored log whose sample members are garbage still loads: only header and summaries are read
    contents = members(POPULARITY_SCORED)
    damaged = {n: (b"{not json" if n.startswith("samples/") else data) for n, data in contents.items()}
    table = inspect_logs.read(rezip(tmp_path / "scored.eval", damaged))
    assert table.samples["match"].sum() == 8
    # a log without scores gives the completion of each sample, read from its member
    unscored = inspect_logs.read(POPULARITY_UNSCORED)
    for name, data in members(POPULARITY_UNSCORED).items():
        if name.startswith("samples/"):
            sample = json.loads(data)
            row = unscored.samples.filter(pl.col("item") == str(sample["id"]))
            assert row["prediction"].item() == sample["output"]["choices"][0]["message"]["content"]
            assert row["target"].item() == sample["target"]
    assert not unscored.prescored


@needs_shared_data
def test_real_folder_keeps_the_newest_log_per_model_and_task() -> None:
    table = load([RAW], LoadOptions())
    models = table.samples.group_by("model", "task").len().sort("model")
    assert dict(zip(models["model"], models["len"], strict=True)) == {
        "anthropic/claude-sonnet-4-0": 5,
        "ollama/gemma3": 1,
        "ollama/llama3.1": 1,
        "ollama/qwen2.5:0.5b": 3,
        "openai/azure/gpt-4o-mini": 2,
        "openai/gpt-4o": 1,
        "openai/gpt-4o-mini": 10,
    }
    assert any(POPULARITY_UNSCORED.name in w and "kept the newest" in w for w in table.warnings)
    assert table.samples.filter(pl.col("model") == "openai/gpt-4o-mini")["match"].sum() == 8


# ------------------------------------------------------------------------------------------ the real library

GENERATE = textwrap.dedent(
    """
    import sys
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import includes, match
    from inspect_ai.solver import generate

    log_dir = sys.argv[1]
    samples = [Sample(input=f"What is {i}+{i}?", target=str(2 * i), id=i) for i in range(1, 9)]
    # a bigger model answers more items; in epoch 2 the mid-size model also gets item 5 right
    for name, right, epoch2 in [("toy-1m", 1, 1), ("toy-10m", 4, 5), ("toy-100m", 7, 7)]:
        outputs = []
        for epoch, limit in ((1, right), (2, epoch2)):
            for i in range(1, 9):
                out = ModelOutput.from_content(model=name, content=str(2 * i) if i <= limit else "no idea")
                # usage given, so mockllm counts no tokens (that would download a tokenizer)
                out.usage = ModelUsage(input_tokens=5, output_tokens=2, total_tokens=7)
                outputs.append(out)
        task = Task(dataset=samples, solver=generate(), scorer=[match(), includes()])
        eval(task, model=get_model(f"mockllm/{name}", custom_outputs=outputs), log_dir=log_dir, epochs=2,
             display="none", max_samples=1)
    """
)


# the tests of fresh_logs share an xdist group: the inspect_ai run (a subprocess) once, on one worker
SHARED_FRESH_LOGS = pytest.mark.xdist_group("inspect_logs")


@pytest.fixture(scope="module")
def fresh_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("inspect_ai")
    folder = tmp_path_factory.mktemp("inspect_logs")
    done = subprocess.run(
        [sys.executable, "-c", GENERATE, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (folder / "sizes.csv").write_text(
        "model,params\nmockllm/toy-1m,1e6\nmockllm/toy-10m,1e7\nmockllm/toy-100m,1e8\n"
    )
    return folder


@SHARED_FRESH_LOGS
def test_zstd_logs_made_by_inspect_open_with_epochs_averaged(fresh_logs: Path) -> None:
    from inspect_ai.log import read_eval_log

    logs = sorted(fresh_logs.glob("*.eval"))
    assert len(logs) == 3
    with zipfile.ZipFile(logs[0]) as archive:  # this release writes zstd members (zip method 93)
        assert {info.compress_type for info in archive.infolist()} == {93}
    table = load([fresh_logs], LoadOptions(sizes_file=str(fresh_logs / "sizes.csv")))
    assert table.samples.height == 3 * 8  # items, not items x epochs
    assert set(zip(table.samples["model"], table.samples["params"], strict=True)) == {
        ("mockllm/toy-1m", 1e6),
        ("mockllm/toy-10m", 1e7),
        ("mockllm/toy-100m", 1e8),
    }
    for path in logs:
        log = read_eval_log(str(path))  # the library's own reading, with its own epoch reduction
        model = log.eval.model
        mine = table.samples.filter(pl.col("model") == model)
        reduced = {
            s.sample_id: s.value for s in next(r for r in log.reductions if r.scorer == "match").samples
        }
        for item, value in reduced.items():
            assert cell(mine, "match", item=str(item)) == pytest.approx(value)
        accuracy = log.results.scores[0].metrics["accuracy"].value
        assert mine["match"].mean() == pytest.approx(accuracy)
    assert cell(table.samples, "match", model="mockllm/toy-10m", item="5") == 0.5  # right in 1 of 2 epochs
    assert any("2 epochs per sample" in w for w in table.warnings)
    assert "target" not in table.samples.columns  # no single output per item with several epochs


@SHARED_FRESH_LOGS
def test_fresh_logs_report_one_curve_over_the_sizes(fresh_logs: Path) -> None:
    from tui.cli import main

    code = main(["report", str(fresh_logs), "--sizes", str(fresh_logs / "sizes.csv"), "--bootstrap", "0"])
    assert code == 0


# ------------------------------------------------------------------------------------------ malformed logs


@pytest.fixture
def good_eval(tmp_path: Path) -> dict[str, bytes]:
    header = {
        "version": 2,
        "status": "success",
        "eval": {"model": "m/a-1b", "task": "t", "created": "2025-01-01T00:00:00"},
        "results": {
            "scores": [{"name": "match", "scorer": "match", "metrics": {"accuracy": {"value": 0.5}}}]
        },
    }
    summaries = [
        {"id": 1, "epoch": 1, "target": "x", "scores": {"match": {"value": "C", "answer": "x"}}},
        {"id": 2, "epoch": 1, "target": "y", "scores": {"match": {"value": "I", "answer": "z"}}},
    ]
    return {"header.json": json.dumps(header).encode(), "summaries.json": json.dumps(summaries).encode()}


def test_small_eval_log_reads_and_cross_checks(tmp_path: Path, good_eval: dict[str, bytes]) -> None:
    table = inspect_logs.read(rezip(tmp_path / "a.eval", good_eval))
    assert table.samples["match"].to_list() == [1.0, 0.0]
    assert table.samples["prediction"].to_list() == ["x", "z"]
    assert not table.warnings


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncate", r"bad\.eval: not a readable zip archive"),
        ("no header", r"bad\.eval: member header\.json is missing"),
        ("bad json", r"bad\.eval: member summaries\.json: not valid JSON at line 1"),
        (
            "unknown value",
            r"bad\.eval: member summaries\.json sample 2 epoch 1 scorer match: unknown score value 'X'",
        ),
        ("missing sample", r"bad\.eval: member samples/2_epoch_1\.json is missing"),
    ],
)
def test_malformed_eval_logs_give_one_line(
    tmp_path: Path, good_eval: dict[str, bytes], damage, message
) -> None:
    contents = dict(good_eval)
    summaries = json.loads(contents["summaries.json"])
    if damage == "no header":
        del contents["header.json"]
    elif damage == "bad json":
        contents["summaries.json"] = b'[{"id": 1, "epoch": '
    elif damage == "unknown value":
        summaries[1]["scores"]["match"]["value"] = "X"
        contents["summaries.json"] = json.dumps(summaries).encode()
    elif damage == "missing sample":
        summaries[1]["scores"] = {}  # unscored: its completion must come from a sample member
        contents["summaries.json"] = json.dumps(summaries).encode()
    path = rezip(tmp_path / "bad.eval", contents)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    one_line_error(message, inspect_logs.read, path)


def test_folder_with_bad_logs_loads_the_good_ones_and_lists_the_bad(
    tmp_path: Path, good_eval: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    rezip(folder / "good.eval", good_eval)
    (folder / "cut.eval").write_bytes((folder / "good.eval").read_bytes()[:40])
    rezip(folder / "nohead.eval", {"summaries.json": good_eval["summaries.json"]})
    (folder / "notes.json").write_text('{"a": 1}')
    table = load([folder], LoadOptions())
    assert table.samples.height == 2
    bad = skipped(table)
    assert len(bad) == 3
    assert all(
        any(n in w for w in bad) for n in ("cut.eval", "nohead.eval", "notes.json: not an Inspect log")
    )

    from tui.cli import main

    assert main(["report", str(folder / "cut.eval")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cut.eval" in err and "not a readable zip" in err
