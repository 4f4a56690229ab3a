"""Column mapping: the user's column names -> canonical names, from ``--map their=canonical`` and a file.

The mapping file is plain text, one ``their_name = canonical_name`` per line; blank lines and lines starting
with ``#`` are ignored, and either side may be quoted (a TOML file of ``key = "value"`` lines reads the
same way; ``[section]`` lines are skipped).
Command-line pairs override the file's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl

from analysis import schema
from analysis.errors import InputError
from analysis.files import require_regular


def _valid_names() -> str:
    return ", ".join((*schema.CANONICAL_COLUMNS, *schema.MAPPING_ROLES))


def _check_canonical(canonical: str, where: str) -> None:
    if canonical not in schema.CANONICAL_COLUMNS and canonical not in schema.MAPPING_ROLES:
        raise InputError(f"{where}: '{canonical}' is not a canonical column; use one of: {_valid_names()}")


def _split_pair(text: str, where: str) -> tuple[str, str]:
    if "=" not in text:
        raise InputError(
            f"{where}: '{text}' is not of the form their_name=canonical_name (e.g. operation=task)"
        )
    their, canonical = (part.strip().strip("'\"").strip() for part in text.split("=", 1))
    if not their or not canonical:
        raise InputError(f"{where}: '{text}' needs a name on both sides of '=' (e.g. operation=task)")
    _check_canonical(canonical, where)
    return their, canonical


def parse_map_args(pairs: Iterable[str]) -> dict[str, str]:
    """Parse repeated ``--map their=canonical`` strings into {their: canonical}, checking canonical names."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        their, canonical = _split_pair(pair, f"--map {pair}")
        mapping[their] = canonical
    return mapping


def read_mapping_file(path: str | Path) -> dict[str, str]:
    """Read a mapping file (``their = canonical`` lines, ``#`` comments) into {their: canonical}."""
    path = Path(path)
    require_regular(path)
    if not path.is_file():
        raise InputError("mapping file not found; check the path given to --map-file", path=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(
            f"cannot read the mapping file ({err}); give a UTF-8 text file", path=str(path)
        ) from err
    mapping: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "[")):
            continue
        their, canonical = _split_pair(stripped, f"{path} line {number}")
        mapping[their] = canonical
    return mapping


def build_mapping(pairs: Iterable[str] = (), file: str | Path | None = None) -> dict[str, str]:
    """The mapping to put in ``LoadOptions.mapping``: the file's pairs, then the command line's on top."""
    mapping = read_mapping_file(file) if file is not None else {}
    mapping.update(parse_map_args(pairs))
    return mapping


def apply_mapping(frame: pl.LazyFrame, mapping: Mapping[str, str], path: str | Path) -> pl.LazyFrame:
    """Rename the mapped columns a file has (others are left alone); refuse two columns on one name."""
    columns = frame.collect_schema().names()
    present = {their: canonical for their, canonical in mapping.items() if their in columns}
    for canonical in set(present.values()):
        sources = [their for their, target in present.items() if target == canonical]
        kept = canonical in columns and canonical not in present
        if len(sources) > 1 or kept:
            clash = " and ".join(f"'{name}'" for name in [*sources, *([canonical] if kept else [])])
            raise InputError(
                f"column {clash} would both be named '{canonical}'; map only one of them to '{canonical}'",
                path=str(path),
            )
    return frame.rename(present) if present else frame
