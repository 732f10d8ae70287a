"""A finished run that reproduce or a sweep would reuse must have been trained with the config asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from experiments.stale_runs import expected_config, set_aside_if_stale, stale_reasons
from experiments.sweep import sweep as sw

CONFIG = {"seed_everything": 0,
          "trainer": {"max_epochs": 8, "callbacks": [{"class_path": "x.Early", "init_args": {"patience": 2}}]},
          "model": {"class_path": "lit_modules.fcn.FCNModule",
                    "init_args": {"first_pool": False, "lr": "3e-3", "widths": [16, 32]}}}


def resolved(**init_args) -> dict:
    """What LightningCLI writes to the run's config.yaml: every default filled in, floats as floats."""
    return {"seed_everything": 0,
            "trainer": {"max_epochs": 8, "default_root_dir": "/elsewhere", "logger": None,
                        "callbacks": [{"class_path": "x.Early", "init_args": {"patience": 2, "mode": "min"}}]},
            "model": {"class_path": "lit_modules.fcn.FCNModule",
                      "init_args": {"first_pool": False, "lr": 0.003, "widths": [16, 32], "dice": 0.5,
                                    **init_args}},
            "experiment": "e", "run_id": "r", "runs_dir": "/x"}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


def run_with(tmp_path: Path, saved: dict) -> Path:
    run = tmp_path / "runs" / "fcn-demo" / "reproduce"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    return run


def test_expected_config_merges_files_then_overrides_in_order(config, tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump({"trainer": {"max_epochs": 2}}))
    want = expected_config(["--config", str(config), "--config", str(extra), "--trainer.max_epochs=4",
                            "--model.init_args.widths", "[8, 8]", "--experiment", "e"])
    assert want["trainer"]["max_epochs"] == 4
    assert want["model"]["init_args"]["widths"] == [8, 8]
    assert want["model"]["init_args"]["first_pool"] is False  # the file's other keys stay


def test_a_run_of_the_same_config_is_not_stale(config, tmp_path):
    """Defaults the file leaves out, YAML's 1e-3 string against the resolved float, a callback whose
    init_args gained defaults, and the launcher's own keys are all the same run."""
    run = run_with(tmp_path, resolved())
    assert stale_reasons(run, ["--config", str(config), "--experiment", "other", "--runs_dir", "/y"]) == []
    assert set_aside_if_stale(run, ["--config", str(config)]) is None and run.exists()


@pytest.mark.parametrize(("saved", "args", "named"), [
    (resolved(first_pool=True), [], "model.init_args.first_pool: run True, config False"),
    (resolved(), ["--trainer.max_epochs=4"], "trainer.max_epochs: run 8, config 4"),
    (resolved(lr=0.01), [], "model.init_args.lr"),
    (resolved(widths=[16, 32, 64]), [], "model.init_args.widths"),
])
def test_a_changed_value_makes_the_run_stale_and_names_the_key(config, tmp_path, saved, args, named):
    run = run_with(tmp_path, saved)
    reasons = stale_reasons(run, ["--config", str(config), *args])
    assert len(reasons) == 1 and reasons[0].startswith(named)


def test_an_option_the_run_did_not_have_makes_it_stale(config, tmp_path):
    saved = resolved()
    del saved["model"]["init_args"]["first_pool"]  # a run from before the option existed
    run = run_with(tmp_path, saved)
    assert stale_reasons(run, ["--config", str(config)]) == [
        "model.init_args.first_pool: the run has no such key (config: False)"]


def test_a_stale_run_is_moved_aside_not_deleted(config, tmp_path, capsys):
    run = run_with(tmp_path, resolved(first_pool=True))
    aside = set_aside_if_stale(run, ["--config", str(config)])
    assert aside is not None and not run.exists() and (aside / "config.yaml").exists()
    assert aside.name.startswith("reproduce.stale-")
    out = capsys.readouterr().out
    assert "trained with another config (model.init_args.first_pool" in out and aside.name in out


def test_a_folder_without_config_is_left_alone(tmp_path):
    run = tmp_path / "fresh"
    run.mkdir()
    assert stale_reasons(run, ["--trainer.max_epochs=1"]) == []


def test_sweep_retrains_a_finished_trial_whose_config_changed(tmp_path):
    """The sweep's own resume: a done trial of the current config is skipped, a done trial left by an
    earlier config is set aside and run again."""
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"trainer": {"max_epochs": 3}, "model": {"init_args": {"width": 8}}}))
    spec = {"name": "w", "method": "grid", "metric": {"name": "val/acc1", "goal": "maximize"},
            "parameters": {"seed_everything": {"values": [0, 1]}},
            "command": ["${env}", "${interpreter}", "-m", "experiments", "fit", "--config", str(base), "${args}"]}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(spec))
    s = sw.load_sweep(tmp_path / "sweep.yaml")
    runs = tmp_path / "runs"
    launched: list[str] = []

    def launcher(cmd, run_dir):
        launched.append(run_dir.name)
        run_dir.mkdir(parents=True, exist_ok=True)
        seed = int(next(a for a in cmd if a.startswith("--seed_everything=")).split("=")[1])
        (run_dir / "config.yaml").write_text(yaml.safe_dump({"seed_everything": seed, **yaml.safe_load(base.read_text())}))
        (run_dir / "results.json").write_text(json.dumps({"version": 1, "stages": ["fit"],
                                                          "metrics": {"val/acc1": 0.5}}))
        return 0, ""

    trials = sw.enumerate_trials(s)
    assert sw.run_local(s, trials, runs, sw.State(runs / "a.json"), launcher=launcher) == 0
    assert len(launched) == 2
    launched.clear()
    assert sw.run_local(s, trials, runs, sw.State(runs / "a.json"), launcher=launcher) == 0
    assert launched == []  # nothing changed: both reused
    base.write_text(yaml.safe_dump({"trainer": {"max_epochs": 3}, "model": {"init_args": {"width": 16}}}))
    assert sw.run_local(s, trials, runs, sw.State(runs / "a.json"), launcher=launcher) == 0
    assert sorted(launched) == sorted(t.id for t in trials)
    assert len(list((runs / s.name).glob("*.stale-*"))) == 2
