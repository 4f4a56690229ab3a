"""Readers that turn the files researchers already have into the canonical ResultTable, side by side.

Each reader module exposes ``NAME`` (the ``--format-in`` value), ``sniff(path) -> bool`` (cheap: looks at the
name and at most the first few KB) and ``read(path, options) -> ResultTable``. ``registry.READERS`` is tried
in order; the tidy reader comes last as the fallback for CSV, Parquet and JSON Lines.
"""
