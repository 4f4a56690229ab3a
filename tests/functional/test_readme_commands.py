"""The README's "Real data" commands, run as written on ../shared/data, each checked against a number it
prints.

The README block is split at its ``# <folder>:`` comments. Shell lines (unpacking a tarball, writing a sizes
file) run in bash; ``uv run emergence-tui ...`` lines run in this process through ``tui.cli.main``, from the
repository's folder, with the same arguments. The one change: ``/tmp/emergence-tui`` becomes a fresh temporary
folder, so runs never share or leave files. Every folder of ../shared/data must have a block and a check here.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SHARED_DATA, needs_shared_data
from tui.cli import main

pytestmark = needs_shared_data

README = REPO_ROOT / "README.md"
SCRATCH = "/tmp/emergence-tui"
COMMAND = "uv run emergence-tui "


def real_data_blocks() -> dict[str, list[str]]:
    """folder -> the lines of its block, from the README's "Real data" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Real data\n", 1)[1].split("\n## ", 1)[0]
    code = section.split("```\n", 1)[1].split("```", 1)[0]
    blocks: dict[str, list[str]] = {}
    folder = None
    for line in code.splitlines():
        heading = re.match(r"# (\w+):", line)
        if heading:
            folder = heading.group(1)
            blocks[folder] = []
        elif line.strip():
            assert folder is not None, f"a command before any '# folder:' line: {line}"
            blocks[folder].append(line)
    return blocks


# folder -> patterns the report's text must contain (values read off the files or their published fits)
CHECKS: dict[str, list[str]] = {
    # results_*.json of tinygpt-15216: add3b exact_match 0.4425 of 400 items; 400 of 400 reads [0.991, 1]
    "lm_eval_04_tinygpt": [
        r"== add3b  \(family default\)",
        r"tinygpt-15216\s+15200\s+0\.443 \[0\.39\d, 0\.49\d\]\s+400",
        r"tinygpt-995456\s+9\.95e5\s+1 \[0\.991, 1\]\s+400",
    ],
    # config.model_num_parameters 93,069,280
    "lm_eval_0492": [r"== math_perturbed_full", r"9\.31e7"],
    # 0 of 3 gsm8k items: the exact (Clopper-Pearson) interval, not [0, 0]
    "lm_eval_04_examples": [r"== gsm8k", r"tinyllama\s+1\.10e9\s+0 \[0, 0\.70\d\]\s+3"],
    # OPT-66B LAMBADA accuracy 0.7389 in its results file
    "lm_eval_2023": [r"== lambada_openai  \(family opt\)", r"opt-66b\s+6\.60e10\s+0\.739"],
    # pythia-12b (step 143000) zero-shot LAMBADA acc 0.7046 (tidy.csv); both suites, no checkpoint families
    "pythia": [
        r"== lambada_openai 0-shot  \(family pythia\)",
        r"pythia-12b\s+1\.20e10\s+0\.705",
        r"\(family pythia-deduped\)",
    ],
    # 12B deduped at step 143000, 0 shots: 490 of 5000 (tidy.csv)
    "pythia_arithmetic": [
        r"== multiplication 0-shot  \(family pythia-deduped\)",
        r"pythia-12b-deduped\s+1\.18e10\s+0\.098 \[0\.0899, 0\.107\]\s+5000",
    ],
    # the emergent table took its sizes from the benchmark table (joined on Model)
    "obsscaling": [r"== arithmetic_3ds_2  \(family OPT\)", r"facebook/opt-66b\s+6\.60e10"],
    # gpt2-xl, closed prompt, 0 shots: seeds 0.1196, 0.1186, 0.1166 -> 0.118; base models only, -100 dropped
    "ukp_on_emergence": [
        r"== modified_arithmetic \[closed\] 0-shot  \(family gpt2\)",
        r"gpt2-xl\s+1\.50e9\s+0\.118 \[",
        r"dropped 2570 of 5055 rows",
    ],
    # Besiroglu et al. (2024) refit: E=1.82, A=482, alpha=0.35, B=2085, beta=0.37 on the 240 kept runs
    "chinchilla": [r"dropped 5 of 245 rows", r"E=1\.8\d", r"alpha=0\.3[45]\d", r"beta=0\.3[67]\d"],
    # Pythia-1B HellaSwag placed by its name; GPT-2 named as unplaced, with a hint that fits
    "helm": [
        r"eleutherai/pythia-1b-v0=1e\+09",
        r"eleutherai/pythia-1b-~\s+1\.00e9\s+0\.3 \[",
        r"no size in the name",
    ],
    "inspect": [r"ollama/qwen2\.5:0\.5b\s+5\.00e8"],
}


def test_every_shared_folder_has_a_command_and_a_check() -> None:
    folders = {p.name for p in SHARED_DATA.iterdir() if p.is_dir()}
    blocks = real_data_blocks()
    assert set(blocks) == folders
    assert set(CHECKS) == folders
    for folder, lines in blocks.items():
        assert sum(line.startswith(COMMAND) for line in lines) == 1, folder


@pytest.mark.parametrize("folder", sorted(CHECKS))
def test_readme_command_runs_as_written(
    folder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = real_data_blocks().get(folder)
    if lines is None:
        pytest.fail(f"the README has no real-data command for ../shared/data/{folder}")
    monkeypatch.chdir(REPO_ROOT)
    code = None
    for line in lines:
        line = line.replace(SCRATCH, str(tmp_path / "scratch"))
        if line.startswith(COMMAND):
            code = main(shlex.split(line.removeprefix(COMMAND)))
        else:
            subprocess.run(["bash", "-c", line], check=True, cwd=REPO_ROOT, timeout=60)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for pattern in CHECKS[folder]:
        assert re.search(pattern, captured.out), f"{pattern!r} not in the report of {folder}"
