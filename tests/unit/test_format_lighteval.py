"""lighteval details parquet, both layouts, written here the way lighteval writes them.

lighteval itself cannot be installed here (it depends on torch, whose PyPI build pulls several GB of CUDA
libraries), so the files are made with the library lighteval uses to write them, ``datasets``
(``Dataset.from_list([asdict(detail) ...]).to_parquet``), from records shaped like its ``Detail`` dataclasses:
the flat one of 0.10 and the ``doc``/``model_response``/``metric`` one of 0.11 and later (0.13.0 checked).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from analysis.formats import lighteval
from analysis.loading import load
from analysis.options import LoadOptions
from tests.format_helpers import one_line_error, skipped

datasets = pytest.importorskip("datasets")

STAMP_OLD = "2024-05-01T10-00-00.000001"
STAMP_NEW = "2025-06-01T10-00-00.000001"


def write_details(root: Path, model: str, stamp: str, task: str, records: list[dict]) -> Path:
    folder = root / "details" / model / stamp
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"details_{task}_{stamp}.parquet"
    columns = sorted(records[0])  # lighteval sorts the columns before writing
    datasets.Dataset.from_list(records).select_columns(columns).to_parquet(str(path))
    return path


def old_detail(
    example: str, predictions: list, gold: list[str], choices: list[str], gold_index: list[int], metrics: dict
) -> dict:
    """The flat Detail of lighteval 0.10 (``info_loggers.DetailsLogger.Detail``), all fields."""
    return {
        "example": example,
        "instruction": "",
        "full_prompt": f"Q: {example}\nA:",
        "num_effective_few_shots": 0,
        "num_asked_few_shots": 0,
        "predictions": predictions,
        "prediction_logits": [],
        "input_tokens": [[1, 2, 3]],
        "cont_tokens": [[4]],
        "truncated": [0],
        "padded": [0],
        "gold": gold,
        "pred_logits": [],
        "choices": choices,
        "gold_index": gold_index,
        "metrics": metrics,
        "specifics": {"note": "x"},
    }


def new_detail(
    query: str,
    choices: list[str],
    gold_index: int,
    text: list[str],
    logprobs: list[float],
    metric: dict,
    doc_id: str = "",
) -> dict:
    """The Detail of lighteval 0.11+ (``doc``, ``model_response``, ``metric``), as ``asdict`` gives it."""
    doc = {
        "query": query,
        "choices": choices,
        "gold_index": gold_index,
        "instruction": None,
        "specific": None,
        "unconditioned_query": None,
        "original_query": None,
        "id": doc_id,
        "task_name": "t",
        "num_asked_few_shots": 0,
        "num_effective_few_shots": 0,
        "generation_size": None,
        "stop_sequences": None,
        "use_logits": False,
        "num_samples": 1,
    }
    response = {
        "input": query,
        "input_tokens": [1, 2],
        "text": text,
        "output_tokens": [[3]],
        "text_post_processed": None,
        "reasonings": [],
        "logprobs": logprobs,
        "argmax_logits_eq_gold": [],
        "unconditioned_logprobs": None,
        "truncated_tokens_count": 0,
        "padded_tokens_count": 0,
    }
    return {"doc": doc, "model_response": response, "metric": metric}


QUESTIONS = ["Is fire hot?", "Is ice hot?", "Is tea wet?"]


def new_tree(root: Path) -> Path:
    for model, shift in [("org/m-1b", 0.0), ("org/m-10b", 1.0)]:
        mc = [
            new_detail(
                q,
                ["yes", "no", "maybe"],
                i % 2,
                [],
                [-1.0 - shift * (i % 2), -1.5 + shift, -3.0],
                {"acc": float(i < 2)},
            )
            for i, q in enumerate(QUESTIONS)
        ]
        write_details(root, model, STAMP_NEW, "anli:r1|0", mc)
        gen = [
            new_detail(
                f"Spell {w}",
                [w],
                0,
                [w if shift else w[:-1]],
                [],
                {"em": float(bool(shift)), "f1": 0.5 + shift / 2},
                doc_id=f"s{k}",
            )
            for k, w in enumerate(["cat", "dog"])
        ]
        write_details(root, model, STAMP_NEW, "squad_v2|0", gen)
    return root


def test_new_layout_multiple_choice_and_generation(tmp_path: Path) -> None:
    root = new_tree(tmp_path / "out")
    table = lighteval.read(root, LoadOptions(params_from_name=True))
    samples = table.samples
    assert set(samples["model"]) == {"org/m-1b", "org/m-10b"}
    assert set(samples["task"]) == {"anli:r1", "squad_v2"}  # one shots setting each: plain names
    mc = samples.filter(pl.col("task") == "anli:r1", pl.col("model") == "org/m-10b").sort("item")
    item = hashlib.sha1(QUESTIONS[1].encode()).hexdigest()[:12]
    row = mc.filter(pl.col("item") == item).row(0, named=True)
    assert row["choice_logliks"] == [-2.0, -0.5, -3.0] and row["correct_choice"] == 1 and row["acc"] == 1.0
    gen = samples.filter(pl.col("task") == "squad_v2").sort("model", "item")
    assert gen.select("model", "item", "target", "prediction", "em", "f1").rows() == [
        ("org/m-10b", "s0", "cat", "cat", 1.0, 1.0),
        ("org/m-10b", "s1", "dog", "dog", 1.0, 1.0),
        ("org/m-1b", "s0", "cat", "ca", 0.0, 0.5),
        ("org/m-1b", "s1", "dog", "do", 0.0, 0.5),
    ]
    assert dict(samples.group_by("model").agg(pl.col("params").first()).iter_rows()) == {
        "org/m-1b": 1e9,
        "org/m-10b": 1e10,
    }
    # the same question is the same item for both models (hash of the query, not the row number)
    assert set(samples.filter(pl.col("model") == "org/m-1b", pl.col("task") == "anli:r1")["item"]) == set(
        mc["item"]
    )


def test_old_layout_pairs_and_texts(tmp_path: Path) -> None:
    root = tmp_path / "out"
    records = [
        old_detail("Q1", [[-1.0, 0.0], [-2.0, 1.0]], ["A"], ["A", "B"], [0], {"acc": 1.0, "acc_norm": 1.0}),
        old_detail("Q2", [[-3.0, 0.0], [-0.5, 1.0]], ["A"], ["A", "B"], [0], {"acc": 0.0, "acc_norm": 0.0}),
    ]
    write_details(root, "org/m", STAMP_OLD, "leaderboard|arc:challenge|25", records)
    gen = [old_detail("2+2?", ["4"], ["4"], [], [], {"quasi_exact_match": 1.0})]
    write_details(root, "org/m", STAMP_OLD, "lighteval|gsm8k|5", gen)
    table = lighteval.read(root)
    arc = table.samples.filter(pl.col("task") == "leaderboard|arc:challenge").sort("acc")
    assert arc["choice_logliks"].to_list() == [[-3.0, -0.5], [-1.0, -2.0]]
    assert arc["correct_choice"].to_list() == [0, 0]
    gsm = table.samples.filter(pl.col("task") == "lighteval|gsm8k").row(0, named=True)
    assert (gsm["target"], gsm["prediction"], gsm["quasi_exact_match"]) == ("4", "4", 1.0)
    assert {"acc", "acc_norm", "quasi_exact_match"} <= set(table.prescored)


def test_newest_run_wins_and_shot_settings_fold(tmp_path: Path) -> None:
    root = tmp_path / "out"
    one = [new_detail("Q", ["a", "b"], 0, [], [-1.0, -2.0], {"acc": 1.0}, doc_id="q")]
    other = [new_detail("Q", ["a", "b"], 0, [], [-3.0, -2.0], {"acc": 0.0}, doc_id="q")]
    write_details(root, "m", STAMP_OLD, "t|0", other)
    write_details(root, "m", STAMP_NEW, "t|0", one)
    write_details(root, "m", STAMP_NEW, "t|5", one)
    table = lighteval.read(root)
    assert sorted(table.samples["task"]) == ["t 0-shot", "t 5-shot"]
    assert table.samples.filter(pl.col("task") == "t 0-shot")["acc"].item() == 1.0  # the newer run
    assert any("older run" in w and STAMP_OLD in w for w in table.warnings)


def test_repeated_query_gets_its_own_item(tmp_path: Path) -> None:
    records = [new_detail("same", ["a", "b"], 0, [], [-1.0, -2.0], {"acc": v}) for v in (1.0, 0.0)]
    path = write_details(tmp_path, "m", STAMP_NEW, "t|0", records)
    items = lighteval.read(path).samples["item"].to_list()
    base = hashlib.sha1(b"same").hexdigest()[:12]
    assert items == [base, f"{base}#2"]


def test_bad_details_give_one_line_and_a_folder_loads_the_good_ones(tmp_path: Path) -> None:
    root = new_tree(tmp_path / "out")
    good = next(root.rglob("details_anli*.parquet"))
    cut = good.with_name(good.name.replace("anli:r1", "cut"))
    cut.write_bytes(good.read_bytes()[:100])
    other = good.with_name(good.name.replace("anli:r1", "other"))
    pl.DataFrame({"x": [1]}).write_parquet(other)
    one_line_error(r"details_cut\|0_.*: cannot read it as Parquet", lighteval.read, cut)
    one_line_error(r"neither lighteval layout", lighteval.read, other)
    table = load([root], LoadOptions())
    assert set(table.samples["task"]) == {"anli:r1", "squad_v2"}
    bad = skipped(table)
    assert (
        len(bad) == 2
        and any("details_cut|0_" in w for w in bad)
        and any("details_other|0_" in w for w in bad)
    )
