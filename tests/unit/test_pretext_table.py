"""The SSL comparison table's plan (dry run) and its cells."""

from experiments.reproduce import pretext_table as pt


def test_dry_run_plans_pretraining_then_linear_eval_and_none_for_the_random_encoder(tmp_path, capsys):
    assert pt.main(["--dry-run", "--seeds", "0", "1", "--methods", "random", "colorization",
                    "--runs-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    fits = [ln for ln in lines if "configs/colorization/demo.yaml" in ln]
    evals = [ln for ln in lines if "configs/linear_eval/demo.yaml" in ln]
    assert len(lines) == 6 and len(fits) == 2 and len(evals) == 4  # random: linear eval only
    seeds = [ln.split("--seed_everything ")[1].split()[0] for ln in lines]
    assert seeds == ["0", "1", "0", "0", "1", "1"]  # per method, per seed: pre-training, then its evaluation
    assert "--model.init_args.checkpoint random" in evals[0]
    assert f"{tmp_path}/colorization-demo/s0/checkpoints/last.ckpt --model.init_args.grey_input true" in evals[2]


def test_cells_give_mean_std_and_say_what_is_missing():
    assert pt._cell([0.2, 0.4]) == "0.300 ± 0.141"
    assert pt._cell([0.2, None]) == "0.200 (n=1)"
    assert pt._cell([None]) == "not run"


def test_reproduce_page_carries_the_pretext_table(tmp_path):
    from experiments.reproduce.reproduce import write_page

    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "pretext_table.md").write_text("Seeds [0]\n\n| Method | linear eval |\n|---|---|\n| Jigsaw | 0.185 |\n")
    out = tmp_path / "docs/RESULTS.md"
    out.parent.mkdir()
    write_page(out, runs, [], {}, [], [], 1.0, pretext=runs / "pretext_table.md")
    page = out.read_text()
    assert "## Self-supervision: pretext tasks" in page and "| Jigsaw | 0.185 |" in page
    write_page(out, runs, [], {}, [], [], 1.0, pretext=runs / "missing.md")  # not run yet: no section
    assert "pretext tasks" not in out.read_text()
