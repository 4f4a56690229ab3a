"""Old lm-eval JSON reader: a Pythia-like tree of checkpoints and shot settings written here."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analysis.errors import InputError
from analysis.formats import lm_eval_old
from analysis.options import LoadOptions


def old_json(model: str, step: int | None, shots: int, acc: float) -> dict:
    revision = f",revision=step{step}" if step is not None else ""
    return {
        "results": {"lambada": {"acc": acc, "acc_stderr": acc / 10, "ppl": 1 / acc, "ppl_stderr": 0.5}},
        "versions": {"lambada": 0},
        "config": {
            "model": "hf-causal",
            "model_args": f"pretrained=Org/{model}{revision}",
            "num_fewshot": shots,
        },
    }


def write(path: Path, data: dict | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "evals"
    for size, base in (("70m", 0.1), ("1b", 0.3)):
        for variant in ("", "-deduped"):
            model = f"pythia-{size}{variant}"
            for step in (1000, 2000):
                acc = base + step / 1e5
                write(root / model / "zero-shot" / f"{size}_step{step}.json", old_json(model, step, 0, acc))
            write(
                root / model / "five-shot" / f"{size}-5shot_step2000.json",
                old_json(model, 2000, 5, base + 0.05),
            )
    return root


def test_sniff(tree: Path, tmp_path: Path) -> None:
    assert lm_eval_old.sniff(tree)
    assert lm_eval_old.sniff(tree / "pythia-70m" / "zero-shot" / "70m_step1000.json")
    new = tmp_path / "new.json"
    write(new, {"results": {"t": {"acc,none": 0.5}}})
    assert not lm_eval_old.sniff(new)


def test_tree_families_checkpoints_and_shots(tree: Path) -> None:
    table = lm_eval_old.read(tree, LoadOptions(tokens_per_step=2_000_000))
    agg = table.aggregates
    assert set(table.families) == {
        "pythia",
        "pythia-deduped",
        "pythia-70m checkpoints",
        "pythia-70m-deduped checkpoints",
        "pythia-1b checkpoints",
        "pythia-1b-deduped checkpoints",
    }
    # several shot settings -> folded into the task name
    assert set(agg["task"]) == {"lambada 0-shot", "lambada 5-shot"}
    final = agg.filter(pl.col("family") == "pythia", pl.col("metric") == "acc").sort("model", "task")
    assert final["model"].to_list() == ["pythia-1b", "pythia-1b", "pythia-70m", "pythia-70m"]
    assert final["value"].to_list() == pytest.approx([0.32, 0.35, 0.12, 0.15])
    assert final["stderr"].to_list() == pytest.approx([0.032, 0.035, 0.012, 0.015])
    assert final["tokens"].to_list() == [4e9] * 4  # step 2000 x 2e6
    run = agg.filter(pl.col("family") == "pythia-70m checkpoints", pl.col("metric") == "acc")
    run = run.filter(pl.col("task") == "lambada 0-shot").sort("tokens")
    assert run["model"].to_list() == ["pythia-70m step1000", "pythia-70m step2000"]
    assert run["tokens"].to_list() == [2e9, 4e9]
    assert run["value"].to_list() == pytest.approx([0.11, 0.12])
    assert agg["n"].null_count() == agg.height
    assert any("checkpoints" in w for w in table.warnings)


def test_without_tokens_per_step_checkpoints_warn(tree: Path) -> None:
    table = lm_eval_old.read(tree, LoadOptions())
    assert table.aggregates["tokens"].null_count() == table.aggregates.height
    assert any("--tokens-per-step" in w for w in table.warnings)


def test_single_shot_setting_is_not_folded(tmp_path: Path) -> None:
    write(tmp_path / "opt" / "opt-125m" / "a.json", old_json("opt-125m", None, 0, 0.4))
    write(tmp_path / "opt" / "opt-1.3b" / "a.json", old_json("opt-1.3b", None, 0, 0.6))
    table = lm_eval_old.read(tmp_path, LoadOptions())
    acc = table.aggregates.filter(pl.col("metric") == "acc").sort("model")
    assert acc["task"].to_list() == ["lambada", "lambada"]
    assert acc["family"].to_list() == ["opt", "opt"]
    assert acc["value"].to_list() == [0.6, 0.4]


def test_single_file_takes_model_from_config(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    write(path, old_json("opt-125m", None, 0, 0.4))
    table = lm_eval_old.read(path, LoadOptions(family="mine"))
    assert set(table.aggregates["model"]) == {"opt-125m"}
    assert set(table.aggregates["family"]) == {"mine"}


def test_duplicates_warn_and_later_file_wins(tmp_path: Path) -> None:
    write(tmp_path / "m-7b" / "a.json", old_json("m-7b", None, 0, 0.4))
    write(tmp_path / "m-7b" / "b.json", old_json("m-7b", None, 0, 0.5))
    table = lm_eval_old.read(tmp_path, LoadOptions())
    assert table.aggregates.filter(pl.col("metric") == "acc")["value"].to_list() == [0.5]
    assert any("more than one file" in w for w in table.warnings)


def test_bad_files_in_a_tree_are_listed(tree: Path) -> None:
    write(tree / "pythia-70m" / "zero-shot" / "broken_step3000.json", '{"results": {"lambada": {"acc": 0.')
    write(tree / "pythia-70m" / "zero-shot" / "other.json", {"something": 1})
    table = lm_eval_old.read(tree, LoadOptions())
    skipped = [w for w in table.warnings if w.startswith("skipped")]
    assert len(skipped) == 2
    assert any("broken_step3000.json" in w and "not valid JSON" in w for w in skipped)
    assert any("other.json" in w and "no 'results'" in w for w in skipped)
    assert table.aggregates.height > 0


def test_truncated_single_file_raises_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    write(path, '{"results": {"t": {"acc": 0.5')
    with pytest.raises(InputError) as err:
        lm_eval_old.read(path, LoadOptions())
    assert str(path) in str(err.value) and "\n" not in str(err.value)
