"""experiments.report.sweep_curves: the first step reaching a level, and its table over seeds."""

from experiments.report.sweep_curves import first_step, level_table


def rec(values):
    return {"history": [{"global_step": 10 * (i + 1), "val/acc1": v} for i, v in enumerate(values)]}


def test_first_step_above_and_below():
    pts = [(10, 0.2), (20, 0.5), (30, 0.45), (40, 0.7)]
    assert first_step(pts, 0.5, below=False) == 20
    assert first_step(pts, 0.8, below=False) is None
    assert first_step([(10, 2.0), (20, 1.2), (30, 0.9)], 1.0, below=True) == 30


def test_level_table_counts_seeds_that_reached_it():
    table = level_table({"bn=true": [rec([0.3, 0.6]), rec([0.5, 0.7])], "bn=false": [rec([0.1, 0.2])]},
                        "val/acc1", 0.5, below=False)
    rows = table.splitlines()[2:]
    assert rows[0] == "| bn=true | 15 ± 7 | 2 of 2 | 0.6500 ± 0.0707 |"
    assert rows[1] == "| bn=false | — | 0 of 1 | 0.2000 |"
