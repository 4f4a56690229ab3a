"""The words the app's screens show, explained for the help screen (``?``).

Each explanation is the rule of docs/science.md (sections 4 and 5) in a sentence; a test holds every word here
to a word or code name that docs/science.md defines, so the help cannot drift from the rules the analysis
applies. No polars: the help opens before any number exists.
"""

from __future__ import annotations

# (word as shown, what it means, the section of docs/science.md that states the rule)
GLOSSARY: tuple[tuple[str, str, str], ...] = (
    ("disc / cont", "the metric's kind: discontinuous (exact match, a multiple-choice grade: one wrong "
     "token scores 0) or continuous (token loss, token and choice probability, edit distance, Brier), "
     "computed from the same outputs", "3"),
    ("miss", "on the metric's link scale (where the smooth case of the mirage model is a straight line), how "
     "much better a model does than the line through its three next-smaller resolved models predicts, as a "
     "factor: 2x = twice as good (half the implied per-token loss, or twice the odds); the overview shows "
     "the largest", "5.2"),
    ("at", "the model with the largest miss", "5.2"),
    ("p adj", "is the largest miss beyond this curve's own noise? The max-t test of 'no model beats its "
     "prediction by more than a factor 2' against null curves built from the paired bootstrap replicates, "
     "Benjamini-Hochberg adjusted over the discontinuous and the continuous curves separately", "5.3"),
    ("jump", "a curve's status: a miss of at least 2x with p adj < 0.05", "5.4"),
    ("smooth", "every miss below 2x: the curve follows its smaller models' trend (a verdict: no jump seen, "
     "or a raw jump that is a straight rise on the link scale)", "5.4"),
    ("inconclusive", "a miss of at least 2x that the noise could make (or no noise estimate); as a verdict: "
     "partners disagree or none can tell", "5.4"),
    ("unresolved", "fewer than 3 points resolved (interval clear of 0 or chance), so no line to test", "5.4"),
    ("inverse / u_shaped", "the trend: worse with scale (Spearman rho < 0, p < 0.05), or a dip between "
     "better small and large models", "5.6"),
    ("inverted_u / mixed", "the mirror of u_shaped (best in the middle), or both at once", "5.6"),
    ("same as", "the same numbers as another metric of the task (lm-eval's acc and the computed mc_grade): "
     "judged once, under the other name", "5.4"),
    ("too few scales", "3 or 4 scales cannot tell a step from a bend", "5.4"),
    ("tied scales", "two models at one value of the axis: their order is arbitrary, so no statistic", "5.4"),
    ("not on this axis", "fewer than 3 distinct values of the scale axis (x switches it)", "5.4"),
    ("mirage", "the verdict of a discontinuous metric that looks like a jump while every continuous partner "
     "that can tell follows its smaller models' trend: the jump is the metric's, not the model's", "5.5"),
    ("survives", "a partner jumps too, and none is smooth: a real jump in the continuous metric", "5.5"),
    ("emergent (unchecked)", "no continuous partner, and the metric jumps on its own link scale", "5.5"),
    ("pair i/k", "the mirage view: the discontinuous metric beside its i-th of k continuous partners "
     "(c and C step through them)", "5.5"),
    ("CI", "a point's interval: exact Clopper-Pearson for 0/1 metrics (0 of 1000 reads [0, 0.0037]), else "
     "the percentile interval of a Bayesian bootstrap over items, paired across the models", "4"),
    ("↓", "log-y: a point at 0 drawn at its interval's top (0 of n right is not 'zero', it is below that)",
     "4"),
    ("B, n', paired", "bootstrap replicates; the test-set size each model is judged on (all items, or a "
     "subsample); one draw of items shared by every model of a family and task", "4"),
    ("score", "the BIG-bench breakthroughness score, kept in the JSON report: it rewards any saturating "
     "curve, so no verdict depends on it", "5.7"),
    ("stale", "the numbers on screen belong to settings a running recompute replaces", ""),
)  # fmt: skip
