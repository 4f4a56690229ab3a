"""``emergence-tui bench``: a seeded benchmark of the analysis core and the app against naive baselines."""
