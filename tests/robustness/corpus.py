"""A corpus of hostile inputs, one small case per way a result file can be wrong or odd, in every format.

``build_corpus(root)`` writes the files under ``root`` and returns one :class:`Case` per input: the paths to
give ``emergence-tui report``, the extra flags, and what must happen. A case either fails cleanly (exit 2, one
stderr line naming the file and containing ``problem``) or succeeds (exit 0, with ``warning`` among the
warnings when given). Nothing is checked in: every file is generated, so the corpus documents itself.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

ERROR = "error"
OK = "ok"

SCALES = (1e7, 3e7, 1e8, 3e8, 1e9, 3e9)
MARKUP_NAMES = ("[bold]big[/bold]", "[link=https://evil.example]click[/link]", "[red]x", "plain[/]")
ANSI_NAMES = ("\x1b[31mred\x1b[0m", "\x1b]0;pwned\x07title", "\x1b[2J\x1b[Hclear", "\x1b[?1049hscreen")
CONTROL_NAMES = ("bell\x07", "null\x00byte", "back\x08space", "del\x7fete", "c1\x9bcsi")
NEWLINE_NAMES = ("two\nlines", "carriage\rreturn", "tab\tname", "para\u2029sep")
RTL_NAMES = ("نموذج-كبير", "מודל", "\u202eevil\u202c", "mixed עברית text")


@dataclass(frozen=True)
class Case:
    """One hostile input: where it is, how to run it, and what must happen."""

    name: str
    fmt: str  # tidy-csv, tidy-parquet, tidy-jsonl, lm_eval, lm_eval_old, bigbench, wide
    paths: tuple[Path, ...]
    expect: str  # ERROR or OK
    problem: str = ""  # ERROR: a lower-case fragment the one stderr line must contain
    warning: str = ""  # OK: a fragment one of the load warnings must contain
    args: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # hostile names that must come out literally (cleaned) or not restyle

    @property
    def named(self) -> Path:
        """The path the error message must name (the first one given)."""
        return self.paths[0]


# ---------------------------------------------------------------- writers


def _csv(rows: Iterable[dict], columns: Iterable[str] | None = None) -> str:
    rows = list(rows)
    columns = list(columns or rows[0])
    buffer = io.StringIO()
    pl.DataFrame(rows, schema={c: pl.Utf8 for c in columns}, orient="row").write_csv(buffer)
    return buffer.getvalue()


def aggregate_rows(
    models: Iterable[str] = (),
    values: Iterable[float] | None = None,
    *,
    task: str = "arith",
    metric: str = "exact_match",
    family: str = "fam",
) -> list[dict]:
    """Aggregate rows (family, model, task, metric, params, value) for models at increasing scales."""
    models = list(models) or [f"m{i}" for i in range(len(SCALES))]
    values = list(values) if values is not None else [0.0, 0.0, 0.01, 0.05, 0.4, 0.9][: len(models)]
    scales = np.geomspace(1e7, 1e11, len(models)) if len(models) > len(SCALES) else SCALES
    return [
        {"family": family, "model": m, "task": task, "metric": metric, "params": repr(float(s)), "value": v}
        for m, s, v in zip(models, scales, values, strict=False)
    ]


def sample_rows(
    models: Iterable[str] = (), items: int = 4, *, correct: Callable[[int, int], bool] | None = None
):
    """Per-sample generation rows (target/prediction) for each model; ``correct(model_index, item)``."""
    models = list(models) or [f"m{i}" for i in range(len(SCALES))]
    correct = correct or (lambda j, i: i < j)
    return [
        {
            "model": m,
            "task": "gen",
            "params": repr(SCALES[j % len(SCALES)] * (1 + j // len(SCALES))),
            "item": str(i),
            "target": "42",
            "prediction": "42" if correct(j, i) else "41",
        }
        for j, m in enumerate(models)
        for i in range(items)
    ]


def choice_rows(correct_choice: Callable[[int], int] = lambda i: i % 4) -> list[dict]:
    return [
        {
            "model": f"m{j}",
            "task": "mc",
            "params": repr(s),
            "item": str(i),
            "choice_logliks": json.dumps([-1.0 - 0.1 * k - 0.01 * j for k in range(4)]),
            "correct_choice": str(correct_choice(i)),
        }
        for j, s in enumerate(SCALES)
        for i in range(5)
    ]


def parquet_bytes(rows: list[dict], casts: dict[str, pl.DataType] | None = None) -> bytes:
    frame = pl.DataFrame(rows)
    if casts:
        frame = frame.with_columns(pl.col(c).cast(t) for c, t in casts.items())
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def jsonl_text(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def lm_eval_results(model: str, params: object = 1e8, value: object = 0.5, task: str = "arith") -> dict:
    return {
        "results": {task: {"alias": task, "acc,none": value, "acc_stderr,none": "N/A"}},
        "n-shot": {task: 0},
        "n-samples": {task: {"original": 4, "effective": 4}},
        "config": {"model": "hf", "model_args": f"pretrained={model}", "model_num_parameters": params},
        "model_name": model,
    }


STAMP = "2024-05-01T10-00-00.000000"


def lm_eval_mc_record(
    doc_id: int, target: object, logliks: Iterable[float] = (-1.0, -2.0, -3.0, -4.0)
) -> dict:
    logliks = list(logliks)
    return {
        "doc_id": doc_id,
        "doc": {"choices": [f"c{k}" for k in range(len(logliks))]},
        "target": target,
        "filtered_resps": [[str(x), "False"] for x in logliks],
        "filter": "none",
        "metrics": ["acc"],
        "acc": 1.0,
    }


def old_lm_eval(task_values: dict[str, object], model: str = "pythia-160m") -> dict:
    return {
        "results": {task: {"acc": value, "acc_stderr": 0.01} for task, value in task_values.items()},
        "versions": {task: 0 for task in task_values},
        "config": {"model": "gpt2", "model_args": f"pretrained=EleutherAI/{model}", "num_fewshot": 0},
    }


def bigbench_results(name: str = "1b", params: object = 1e9, scores: object | None = None) -> dict:
    default_scores = [
        {
            "preferred_score": "exact_str_match",
            "number_of_shots": 0,
            "subtask_description": "arithmetic:1_digit",
            "score_dict": {"exact_str_match": 0.25},
        }
    ]
    return {
        "model": {
            "model_family": "BIG-G T=0",
            "model_name": name,
            "non_embedding_params": params,
            "total_params": params,
            "flop_matched_non_embedding_params": params,
        },
        "scores": default_scores if scores is None else scores,
        "task": {"task_name": "arithmetic"},
    }


def wide_csv(rows: list[dict]) -> str:
    return _csv(rows)


def _wide_rows(n: int = 5) -> list[dict]:
    return [
        {
            "Model": f"m{j}",
            "Model Size (B)": repr(0.1 * 3**j),
            "arc": repr(0.25 + 0.1 * j),
            "mmlu": repr(0.2 * j),
        }
        for j in range(n)
    ]


# ---------------------------------------------------------------- the corpus


class _Builder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cases: list[Case] = []

    def file(self, relative: str, content: str | bytes, *, encoding: str = "utf-8") -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode(encoding)
        path.write_bytes(content)
        return path

    def add(self, name: str, fmt: str, paths: Path | tuple[Path, ...], expect: str, **kw: object) -> None:
        paths = paths if isinstance(paths, tuple) else (paths,)
        self.cases.append(Case(name, fmt, paths, expect, **kw))  # type: ignore[arg-type]


def _tidy_csv_cases(b: _Builder) -> None:
    good = _csv(aggregate_rows())
    b.add("csv empty", "tidy-csv", b.file("csv/empty.csv", ""), ERROR, problem="empty")
    b.add(
        "csv header only",
        "tidy-csv",
        b.file("csv/header.csv", good.splitlines()[0] + "\n"),
        ERROR,
        problem="no data rows",
    )
    b.add(
        "csv truncated mid-row",
        "tidy-csv",
        b.file("csv/truncated.csv", good[: good.rindex(",") - 3]),
        ERROR,
        problem="value",
    )
    ragged = good + "fam,m9,arith,exact_match,1e12,0.5,EXTRA,MORE\n"
    b.add("csv ragged rows", "tidy-csv", b.file("csv/ragged.csv", ragged), ERROR, problem="csv")
    latin = _csv(aggregate_rows(["modèle-été", *[f"m{i}" for i in range(1, 6)]]))
    b.add(
        "csv Latin-1", "tidy-csv", b.file("csv/latin1.csv", latin, encoding="latin-1"), ERROR, problem="utf-8"
    )
    b.add("csv UTF-16", "tidy-csv", b.file("csv/utf16.csv", good, encoding="utf-16"), ERROR, problem="utf-8")
    b.add("csv UTF-8 BOM", "tidy-csv", b.file("csv/bom.csv", "\ufeff" + good), OK)
    rng = np.random.default_rng(7)
    b.add("csv binary garbage", "tidy-csv", b.file("csv/garbage.csv", rng.bytes(4096)), ERROR, problem="")
    huge = aggregate_rows(values=[1e300, -1e300, 1e308, 0.0, 1.7e308, 5e-324])
    b.add("csv huge numbers", "tidy-csv", b.file("csv/huge.csv", _csv(huge)), OK)
    huge_scales = [{**r, "params": "1e300", "model": f"h{i}"} for i, r in enumerate(aggregate_rows())]
    huge_scales = [{**r, "tokens": "1e300"} for r in huge_scales]
    b.add(
        "csv huge scales (6ND overflows)",
        "tidy-csv",
        b.file("csv/huge_scales.csv", _csv(huge_scales)),
        ERROR,
        problem="flops",
    )
    for label, value, problem in (
        ("negative", "-1e9", "not positive"),
        ("zero", "0", "not positive"),
        ("NaN", "NaN", "not finite"),
        ("infinite", "inf", "not finite"),
    ):
        rows = aggregate_rows()
        rows[2]["params"] = value
        b.add(
            f"csv {label} scale",
            "tidy-csv",
            b.file(f"csv/scale_{label}.csv", _csv(rows)),
            ERROR,
            problem=problem,
        )
    for label, value in (("NaN", "nan"), ("infinite", "-inf")):
        rows = aggregate_rows()
        rows[3]["value"] = value
        b.add(
            f"csv {label} score",
            "tidy-csv",
            b.file(f"csv/score_{label}.csv", _csv(rows)),
            ERROR,
            problem="not finite",
        )
    negative = aggregate_rows(values=[-3.0, -2.5, -2.0, -1.2, -0.7, -0.1], metric="loglik")
    b.add("csv negative scores", "tidy-csv", b.file("csv/negative_scores.csv", _csv(negative)), OK)
    rows = aggregate_rows()
    b.add(
        "csv duplicate rows",
        "tidy-csv",
        b.file("csv/duplicates.csv", _csv([*rows, rows[2]])),
        ERROR,
        problem="repeat",
    )
    b.add("csv one model", "tidy-csv", b.file("csv/one_model.csv", _csv(aggregate_rows(["solo"], [0.4]))), OK)
    b.add("csv one item", "tidy-csv", b.file("csv/one_item.csv", _csv(sample_rows(items=1))), OK)
    zeros = sample_rows(items=20, correct=lambda j, i: False)
    b.add("csv all-zero metric", "tidy-csv", b.file("csv/all_zero.csv", _csv(zeros)), OK)
    ones = sample_rows(items=20, correct=lambda j, i: True)
    b.add("csv all-one metric", "tidy-csv", b.file("csv/all_one.csv", _csv(ones)), OK)
    many = aggregate_rows(
        [f"model-{i:05d}" for i in range(10_000)], values=np.linspace(0, 1, 10_000).tolist()
    )
    b.add("csv 10,000 models", "tidy-csv", b.file("csv/many_models.csv", _csv(many)), OK)
    long_name = "x" * 9_990 + "-longname"
    rows = aggregate_rows([long_name, "m1", "m2", "m3", "m4", "m5"])
    b.add(
        "csv 10,000-character name",
        "tidy-csv",
        b.file("csv/long_name.csv", _csv(rows)),
        OK,
        names=(long_name,),
    )
    hostile_sets = (
        ("markup", MARKUP_NAMES),
        ("ANSI escapes", ANSI_NAMES),
        ("control characters", CONTROL_NAMES),
        ("newlines", NEWLINE_NAMES),
        ("right-to-left", RTL_NAMES),
    )
    for label, names in hostile_sets:
        models = [*names, *[f"pad{i}" for i in range(len(SCALES) - len(names))]][: len(SCALES)]
        rows = aggregate_rows(models, task=names[0], family=names[-1])
        path = b.file(f"csv/names_{label.split()[0].lower()}.csv", _csv(rows))
        b.add(f"csv names with {label}", "tidy-csv", path, OK, names=tuple(models))
    rows = [{k: v for k, v in r.items() if k != "model"} for r in aggregate_rows()]
    b.add(
        "csv without a model column",
        "tidy-csv",
        b.file("csv/no_model.csv", _csv(rows)),
        ERROR,
        problem="model",
    )
    b.add(
        "csv choice index out of range",
        "tidy-csv",
        b.file("csv/choice_range.csv", _csv(choice_rows(lambda i: 4 if i == 3 else i % 4))),
        ERROR,
        problem="out of range",
    )
    b.add(
        "csv negative choice index",
        "tidy-csv",
        b.file("csv/choice_negative.csv", _csv(choice_rows(lambda i: -1 if i == 2 else 0))),
        ERROR,
        problem="out of range",
    )
    rows = choice_rows()
    rows[4]["choice_logliks"] = "[-1.0, -2.0,"
    b.add(
        "csv broken JSON list cell",
        "tidy-csv",
        b.file("csv/bad_list.csv", _csv(rows)),
        ERROR,
        problem="json list",
    )
    rows = choice_rows()
    rows[1]["choice_logliks"] = "[-1.0, NaN, -2.0, -3.0]"
    b.add("csv NaN log-likelihood", "tidy-csv", b.file("csv/nan_loglik.csv", _csv(rows)), ERROR, problem="")


def _tidy_parquet_cases(b: _Builder) -> None:
    data = parquet_bytes(aggregate_rows(), {"params": pl.Float64, "value": pl.Float64})
    b.add("parquet empty", "tidy-parquet", b.file("parquet/empty.parquet", b""), ERROR, problem="empty")
    b.add(
        "parquet truncated",
        "tidy-parquet",
        b.file("parquet/truncated.parquet", data[: len(data) // 2]),
        ERROR,
        problem="parquet",
    )
    garbage = np.random.default_rng(8).bytes(2048)
    b.add(
        "parquet binary garbage",
        "tidy-parquet",
        b.file("parquet/garbage.parquet", garbage),
        ERROR,
        problem="parquet",
    )
    rows = aggregate_rows()
    rows[1]["value"] = "nan"
    data = parquet_bytes(rows, {"params": pl.Float64, "value": pl.Float64})
    b.add(
        "parquet NaN score", "tidy-parquet", b.file("parquet/nan.parquet", data), ERROR, problem="not finite"
    )
    rows = aggregate_rows()
    rows[0]["params"] = "-inf"
    data = parquet_bytes(rows, {"params": pl.Float64, "value": pl.Float64})
    b.add(
        "parquet infinite scale",
        "tidy-parquet",
        b.file("parquet/inf_scale.parquet", data),
        ERROR,
        problem="not finite",
    )
    rows = [{**r, "model": i} for i, r in enumerate(aggregate_rows())]
    data = parquet_bytes(rows, {"params": pl.Float64, "value": pl.Float64})
    b.add("parquet integer model names", "tidy-parquet", b.file("parquet/int_models.parquet", data), OK)
    rows = [{**r, "params": float(r["params"])} for r in choice_rows(lambda i: 9 if i == 1 else 0)]
    rows = [
        {**r, "choice_logliks": json.loads(r["choice_logliks"]), "correct_choice": int(r["correct_choice"])}
        for r in rows
    ]
    b.add(
        "parquet choice index out of range",
        "tidy-parquet",
        b.file("parquet/choice_range.parquet", parquet_bytes(rows)),
        ERROR,
        problem="out of range",
    )


def _tidy_jsonl_cases(b: _Builder) -> None:
    text = jsonl_text(aggregate_rows())
    b.add("jsonl empty", "tidy-jsonl", b.file("jsonl/empty.jsonl", ""), ERROR, problem="empty")
    b.add(
        "jsonl truncated last line",
        "tidy-jsonl",
        b.file("jsonl/truncated.jsonl", text[:-25]),
        ERROR,
        problem="json",
    )
    b.add(
        "jsonl arrays instead of objects",
        "tidy-jsonl",
        b.file("jsonl/arrays.jsonl", "".join(json.dumps(list(r.values())) + "\n" for r in aggregate_rows())),
        ERROR,
        problem="",
    )
    b.add(
        "jsonl UTF-16", "tidy-jsonl", b.file("jsonl/utf16.jsonl", text, encoding="utf-16"), ERROR, problem=""
    )
    nan_text = text.replace('"value": 0.4', '"value": NaN')
    b.add("jsonl NaN token", "tidy-jsonl", b.file("jsonl/nan.jsonl", nan_text), ERROR, problem="")
    b.add(
        "jsonl binary garbage",
        "tidy-jsonl",
        b.file("jsonl/garbage.jsonl", np.random.default_rng(9).bytes(999)),
        ERROR,
        problem="",
    )


def _lm_eval_cases(b: _Builder) -> None:
    def run(folder: str, model: str, **kw: object) -> Path:
        return b.file(f"{folder}/{model}/results_{STAMP}.json", json.dumps(lm_eval_results(model, **kw)))

    good = json.dumps(lm_eval_results("pythia-160m"), indent=1)
    path = b.file(f"lm_eval/truncated/m/results_{STAMP}.json", good[: len(good) // 2])
    b.add("lm-eval results truncated", "lm_eval", path, ERROR, problem="not valid json")
    path = b.file(f"lm_eval/empty/m/results_{STAMP}.json", "")
    b.add("lm-eval results empty", "lm_eval", path, ERROR, problem="empty")
    path = b.file(
        f"lm_eval/latin1/m/results_{STAMP}.json", good.replace("pythia", "pythiä"), encoding="latin-1"
    )
    b.add("lm-eval results Latin-1", "lm_eval", path, ERROR, problem="utf-8")
    path = b.file(f"lm_eval/bom/m/results_{STAMP}.json", "\ufeff" + good)
    b.add("lm-eval results with a BOM", "lm_eval", path, OK)
    path = b.file(f"lm_eval/noresults/m/results_{STAMP}.json", json.dumps({"config": {}}))
    b.add("lm-eval results without results", "lm_eval", path, ERROR, problem="results")
    path = b.file(f"lm_eval/garbage/m/results_{STAMP}.json", np.random.default_rng(10).bytes(3000))
    b.add("lm-eval results binary garbage", "lm_eval", path, ERROR, problem="")
    for j, s in enumerate(SCALES):
        run("lm_eval/odd_values", f"m{j}", params=s, value=["N/A", "nan", "Infinity", 0.3, 0.5, 0.9][j])
    b.add(
        "lm-eval N/A, nan and Infinity values",
        "lm_eval",
        b.root / "lm_eval/odd_values",
        ERROR,
        problem="not finite",
    )
    for j, p in enumerate((-1e9, 0, "lots", None, 1e9)):
        run("lm_eval/bad_params", f"m{j}", params=p, value=0.1 * j)
    b.add(
        "lm-eval negative/zero/text params",
        "lm_eval",
        b.root / "lm_eval/bad_params",
        OK,
        warning="cannot be placed",
    )
    for j, name in enumerate((*MARKUP_NAMES[:2], *ANSI_NAMES[:2])):
        folder = b.root / f"lm_eval/hostile/run{j}"
        b.file(
            f"lm_eval/hostile/run{j}/results_{STAMP}.json",
            json.dumps(lm_eval_results(name, params=SCALES[j])),
        )
        assert folder.is_dir()
    b.add(
        "lm-eval hostile model names",
        "lm_eval",
        b.root / "lm_eval/hostile",
        OK,
        names=(*MARKUP_NAMES[:2], *ANSI_NAMES[:2]),
    )
    surrogate = json.dumps(lm_eval_results("m0")).replace(
        '"model_name": "m0"', '"model_name": "bad\\ud800name"'
    )
    path = b.file(f"lm_eval/surrogate/m0/results_{STAMP}.json", surrogate)
    b.add("lm-eval lone surrogate escape in a name", "lm_eval", path, OK)
    folder = "lm_eval/choice_range/m0"
    b.file(f"{folder}/results_{STAMP}.json", json.dumps(lm_eval_results("m0")))
    records = [lm_eval_mc_record(0, 1), lm_eval_mc_record(1, 7), lm_eval_mc_record(2, 0)]
    path = b.file(f"{folder}/samples_arith_{STAMP}.jsonl", jsonl_text(records))
    b.add(
        "lm-eval samples choice index out of range", "lm_eval", path, OK, warning="not one of their choices"
    )
    folder = "lm_eval/samples_truncated/m0"
    b.file(f"{folder}/results_{STAMP}.json", json.dumps(lm_eval_results("m0")))
    text = jsonl_text([lm_eval_mc_record(i, i % 4) for i in range(4)])
    path = b.file(f"{folder}/samples_arith_{STAMP}.jsonl", text[:-30])
    b.add("lm-eval samples truncated", "lm_eval", path, ERROR, problem="line 4")
    path = b.file(f"lm_eval/samples_utf16/m0/samples_arith_{STAMP}.jsonl", text, encoding="utf-16")
    b.add("lm-eval samples UTF-16", "lm_eval", path, ERROR, problem="")


def _lm_eval_old_cases(b: _Builder) -> None:
    good = json.dumps(old_lm_eval({"lambada": 0.5, "piqa": 0.6}), indent=1)
    b.add(
        "old lm-eval truncated",
        "lm_eval_old",
        b.file("old/truncated.json", good[:-40]),
        ERROR,
        args=("--format-in", "lm_eval_old"),
        problem="not valid json",
    )
    b.add(
        "old lm-eval results is a list",
        "lm_eval_old",
        b.file("old/list.json", '{"results": [1, 2]}'),
        ERROR,
        args=("--format-in", "lm_eval_old"),
        problem="results",
    )
    b.add(
        "old lm-eval UTF-16",
        "lm_eval_old",
        b.file("old/utf16.json", good, encoding="utf-16"),
        ERROR,
        args=("--format-in", "lm_eval_old"),
        problem="utf-8",
    )
    b.add(
        "old lm-eval binary garbage (.json)",
        "lm_eval_old",
        b.file("old/garbage.json", np.random.default_rng(11).bytes(1500)),
        ERROR,
        problem="",
    )
    for j, size in enumerate(("70m", "160m", "410m", "1b", "1.4b")):
        values = {"lambada": [math.nan, "inf", "0.3", 0.5, 1e308][j], "piqa": 0.5 + 0.05 * j}
        b.file(f"old/odd/pythia-{size}/results.json", json.dumps(old_lm_eval(values, f"pythia-{size}")))
    b.add(
        "old lm-eval NaN/inf/text values",
        "lm_eval_old",
        b.root / "old/odd",
        ERROR,
        args=("--params-from-name",),
        problem="not finite",
    )
    for j, name in enumerate(("only-one-model",)):
        b.file(f"old/one/{name}/results.json", json.dumps(old_lm_eval({"piqa": 0.5 + j}, name)))
    b.add(  # nothing can be placed on a scale axis: one line and exit 2, not pages of unplaced points
        "old lm-eval one model, no sizes", "lm_eval_old", b.root / "old/one", ERROR, problem="can be placed"
    )


def _jsonl_surrogate_case(b: _Builder) -> None:
    text = jsonl_text(aggregate_rows()).replace('"model": "m1"', '"model": "m\\udfff1"')
    b.add("jsonl lone surrogate escape in a name", "tidy-jsonl", b.file("jsonl/surrogate.jsonl", text), ERROR)


def _bigbench_cases(b: _Builder) -> None:
    good = json.dumps(bigbench_results(), indent=1)
    surrogate = good.replace('"model_name": "1b"', '"model_name": "\\udc80"')
    b.add(
        "BIG-bench lone surrogate escape in a name",
        "bigbench",
        b.file("bigbench/surrogate.json", surrogate),
        OK,
    )
    b.add(
        "BIG-bench truncated",
        "bigbench",
        b.file("bigbench/truncated.json", good[:-50]),
        ERROR,
        problem="not valid json",
    )
    b.add(
        "BIG-bench no scores",
        "bigbench",
        b.file("bigbench/noscores.json", json.dumps(bigbench_results(scores="none"))),
        ERROR,
        problem="scores",
    )
    bad_entry = json.dumps(bigbench_results(scores=[{"score_dict": [1, 2]}]))
    b.add(
        "BIG-bench score_dict not an object",
        "bigbench",
        b.file("bigbench/bad_entry.json", bad_entry),
        ERROR,
        problem="score_dict",
    )
    b.add(
        "BIG-bench Latin-1",
        "bigbench",
        b.file("bigbench/latin1.json", good.replace("1b", "1b-ü"), encoding="latin-1"),
        ERROR,
        problem="utf-8",
    )
    folder = "bigbench/odd/arithmetic/results"
    for j, (name, params) in enumerate(
        (("2m", -2e6), ("16m", 0), ("53m", "NaN"), ("125m", 1.25e8), ("1b", 1e9))
    ):
        score = [math.nan, math.inf, 0.1, 0.2, 0.6][j]
        scores = [
            {
                "number_of_shots": 0,
                "subtask_description": "arithmetic:1_digit",
                "score_dict": {"exact_str_match": score},
            }
        ]
        b.file(f"{folder}/scores_BIG-G_T0_{name}.json", json.dumps(bigbench_results(name, params, scores)))
    b.add(
        "BIG-bench negative/zero/NaN params, NaN/inf scores",
        "bigbench",
        b.root / folder,
        ERROR,
        problem="not finite",
    )


WIDE_ARGS = (
    "--format-in",
    "wide",
    "--map",
    "Model=model",
    "--map",
    "Model Size (B)=params",
    "--scale",
    "params=1e9",
)


def _wide_cases(b: _Builder) -> None:
    wide = WIDE_ARGS
    b.add("wide empty", "wide", b.file("wide/empty.csv", ""), ERROR, args=wide, problem="empty")
    text = wide_csv(_wide_rows())
    b.add(
        "wide ragged",
        "wide",
        b.file("wide/ragged.csv", text + "m9,1,0.5,0.5,0.7,0.8\n"),
        ERROR,
        args=wide,
        problem="",
    )
    rows = [
        {"Model": r["Model"], "Model Size (B)": r["Model Size (B)"], "notes": "n/a"} for r in _wide_rows()
    ]
    b.add(
        "wide no numeric columns",
        "wide",
        b.file("wide/no_numbers.csv", wide_csv(rows)),
        ERROR,
        args=wide,
        problem="metric",
    )
    rows = _wide_rows()
    rows[2]["arc"], rows[3]["mmlu"] = "1e308", "-1e308"
    b.add("wide huge numbers", "wide", b.file("wide/huge.csv", wide_csv(rows)), OK, args=wide)
    rows = _wide_rows()
    rows[1]["Model Size (B)"] = "-7"
    b.add(
        "wide negative size",
        "wide",
        b.file("wide/negative.csv", wide_csv(rows)),
        ERROR,
        args=wide,
        problem="not positive",
    )
    rows = _wide_rows()
    rows[4]["Model"] = ""
    b.add(
        "wide missing model name",
        "wide",
        b.file("wide/no_name.csv", wide_csv(rows)),
        ERROR,
        args=wide,
        problem="model",
    )
    rows = [*_wide_rows(), _wide_rows()[2]]
    b.add(
        "wide duplicate rows",
        "wide",
        b.file("wide/duplicates.csv", wide_csv(rows)),
        ERROR,
        args=wide,
        problem="",
    )
    b.add(
        "wide UTF-16", "wide", b.file("wide/utf16.csv", text, encoding="utf-16"), ERROR, args=wide, problem=""
    )
    rows = [
        {**r, "Model": name} for r, name in zip(_wide_rows(), (*MARKUP_NAMES, ANSI_NAMES[0]), strict=True)
    ]
    b.add(
        "wide hostile names",
        "wide",
        b.file("wide/hostile.csv", wide_csv(rows)),
        OK,
        args=wide,
        names=(*MARKUP_NAMES, ANSI_NAMES[0]),
    )


def build_corpus(root: Path) -> list[Case]:
    """Write every hostile input under ``root`` and return the cases, in a stable order."""
    builder = _Builder(Path(root))
    for add in (
        _tidy_csv_cases,
        _tidy_parquet_cases,
        _tidy_jsonl_cases,
        _jsonl_surrogate_case,
        _lm_eval_cases,
        _lm_eval_old_cases,
        _bigbench_cases,
        _wide_cases,
    ):
        add(builder)
    names = [case.name for case in builder.cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return builder.cases


FORMATS = ("tidy-csv", "tidy-parquet", "tidy-jsonl", "lm_eval", "lm_eval_old", "bigbench", "wide")
