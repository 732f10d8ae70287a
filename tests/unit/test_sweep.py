"""``paperlab sweep`` without training: the file, trial enumeration and ids, statistics, state."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import sys
import time
import types
from pathlib import Path

import pytest
import yaml

from experiments.sweep import stats, sweep_spec
from experiments.sweep import sweep as sw
from tests.conftest import ROOT

DEMO = str(ROOT / "configs/alexnet/demo.yaml")


def sweep_file(tmp_path: Path, **overrides) -> Path:
    spec = {"name": "lrn", "method": "grid", "metric": {"name": "val/acc1", "goal": "maximize"},
            "parameters": {"model.init_args.lrn": {"values": [True, False]},
                           "seed_everything": {"values": [0, 1, 2]}},
            "command": ["${env}", "${interpreter}", "-m", "experiments", "fit", "--config", DEMO, "${args}"]}
    spec.update(overrides)
    spec = {k: v for k, v in spec.items() if v is not None}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_shipped_sweep_files_are_valid_and_three_seeds(monkeypatch):
    monkeypatch.chdir(ROOT)  # their --config paths are relative to the repository root
    files = sorted((ROOT / "configs/sweeps").glob("*.yaml"))
    assert {f.stem for f in files} >= {"alexnet_lrn", "alexnet_dropout", "alexnet_overlap_pool",
                                        "vgg_depth", "vit_patch_depth"}
    for f in files:
        s = sw.load_sweep(f)
        assert s.parameters["seed_everything"]["values"] == [0, 1, 2], f
        assert len(sw.enumerate_trials(s)) % 3 == 0
    vit = sw.load_sweep(ROOT / "configs/sweeps/vit_patch_depth.yaml")
    image = yaml.safe_load((ROOT / "configs/vit/demo.yaml").read_text())["model"]["init_args"]["image_size"]
    assert all(image % p == 0 for p in vit.parameters["model.init_args.patch_size"]["values"])


def test_grid_is_the_cartesian_product_seeds_outermost(tmp_path):
    s = sw.load_sweep(sweep_file(tmp_path, parameters={
        "model.init_args.lrn": {"values": [True, False]}, "model.init_args.dropout": {"value": 0.5},
        "seed_everything": {"values": [0, 1, 2]}}))
    trials = sw.enumerate_trials(s)
    assert len(trials) == 6 and len({t.id for t in trials}) == 6
    assert [t.params["seed_everything"] for t in trials] == [0, 0, 1, 1, 2, 2]
    assert trials[0].params == {"model.init_args.lrn": True, "model.init_args.dropout": 0.5, "seed_everything": 0}
    assert trials[1].setting == {"model.init_args.lrn": False, "model.init_args.dropout": 0.5}


def test_random_samples_run_cap_trials_reproducibly(tmp_path):
    path = sweep_file(tmp_path, method="random", run_cap=8, parameters={
        "model.init_args.lr": {"distribution": "log_uniform_values", "min": 1e-3, "max": 1e-1},
        "model.init_args.fc_dim": {"min": 64, "max": 512},  # ints: int_uniform, as W&B infers
        "model.init_args.optimizer": {"values": ["sgd", "adamw"]}})
    a, b = sw.enumerate_trials(sw.load_sweep(path)), sw.enumerate_trials(sw.load_sweep(path))
    assert len(a) == 8 and [t.params for t in a] == [t.params for t in b]  # a restart sees the same trials
    for t in a:
        assert 1e-3 <= t.params["model.init_args.lr"] <= 1e-1
        assert isinstance(t.params["model.init_args.fc_dim"], int) and 64 <= t.params["model.init_args.fc_dim"] <= 512
        assert t.params["model.init_args.optimizer"] in ("sgd", "adamw")
    with pytest.raises(sw.SweepError, match="run_cap"):
        sw.enumerate_trials(sw.load_sweep(sweep_file(tmp_path, method="random")))


def test_trial_ids_are_deterministic_functions_of_the_trial(tmp_path):
    s = sw.load_sweep(sweep_file(tmp_path))
    p = {"model.init_args.lrn": True, "seed_everything": 0}
    tid = sweep_spec.trial_id(s, p)
    assert tid == sweep_spec.trial_id(s, dict(reversed(p.items()))) and len(tid) == 8
    assert set(tid) <= set("0123456789abcdefghijklmnopqrstuvwxyz")  # W&B's run-id alphabet
    assert tid != sweep_spec.trial_id(s, {**p, "seed_everything": 1})
    s.base_args = [*s.base_args, "--trainer.max_epochs", "2"]
    assert tid != sweep_spec.trial_id(s, p)  # another base command is another experiment


def test_trial_command_puts_parameters_last(tmp_path):
    s = sw.load_sweep(sweep_file(tmp_path))
    cmd = sw.trial_command(s, sw.Trial("abc", {"model.init_args.lrn": False, "seed_everything": 1}), Path("r"))
    assert cmd[:4] == [sys.executable, "-m", "experiments", "fit"]
    assert cmd[4:6] == ["--config", DEMO]
    assert cmd[-2:] == ["--model.init_args.lrn=false", "--seed_everything=1"]
    assert cmd[cmd.index("--run_id") + 1] == "abc" and cmd[cmd.index("--experiment") + 1] == "lrn"


def test_set_overrides_join_the_base_arguments_and_the_trial_ids(tmp_path):
    s = sw.load_sweep(sweep_file(tmp_path))
    short = sw.with_overrides(s, ["trainer.max_epochs=1", "--data.init_args.train_size=600"])
    assert short.base_args[-2:] == ["--trainer.max_epochs=1", "--data.init_args.train_size=600"]
    p = {"model.init_args.lrn": True, "seed_everything": 0}
    assert sweep_spec.trial_id(short, p) != sweep_spec.trial_id(s, p)  # never mixed with full-length trials
    assert sweep_spec.check_digest(short) != sweep_spec.check_digest(s)
    with pytest.raises(sw.SweepError, match="KEY=VALUE"):
        sw.with_overrides(s, ["trainer.max_epochs"])
    # A swept key would silently win over the --set (the trial's parameters come last): refused
    with pytest.raises(sw.SweepError, match=r"parameters\.seed_everything .*overrides it"):
        sw.with_overrides(s, ["--seed_everything=3"])


def test_shortened_sweeps_still_validate(tmp_path):
    # A demo that validates every 2nd epoch, cut to 1 epoch, would end with no metric at all
    for config, expected in [("configs/unet/demo.yaml", ["--trainer.check_val_every_n_epoch=1"]),
                             ("configs/alexnet/demo.yaml", [])]:
        assert yaml.safe_load((ROOT / config).read_text())["trainer"].get("check_val_every_n_epoch", 1) == (
            2 if expected else 1)
        s = sw.load_sweep(sweep_file(tmp_path, command=["${env}", "${interpreter}", "-m", "experiments", "fit",
                                                        "--config", str(ROOT / config), "${args}"]))
        short = sw.with_overrides(s, ["trainer.max_epochs=1"])
        assert short.base_args == [*s.base_args, "--trainer.max_epochs=1", *expected]
        assert sw.with_overrides(s, []) == s
    assert sw.end_validation(["--config", str(ROOT / "configs/unet/demo.yaml"), "--trainer.max_epochs", "4"]) == []

@pytest.mark.parametrize(("df", "t975"), [(1, 12.7062), (2, 4.3027), (4, 2.7764), (10, 2.2281),
                                           (30, 2.0423), (1e6, 1.9600)])
def test_t_quantile_matches_the_table(df, t975):
    assert stats.t_quantile(0.975, df) == pytest.approx(t975, abs=1e-4)
    assert stats.t_quantile(0.025, df) == pytest.approx(-t975, abs=1e-4)


def test_t_quantile_matches_scipy_for_real_df():
    from scipy import stats as scipy_stats  # a dev dependency: the cross-check must run, not skip
    for df in (1.3, 2.941, 7.5):
        for p in (0.9, 0.975, 0.995):
            assert stats.t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-7)


def test_welch_interval_hand_computed():
    # Equal variances (0.0004) and n=3 each give Welch df = 4 exactly; se = sqrt(2 * 0.0004 / 3).
    low, high, df = sw.welch_ci([0.60, 0.62, 0.64], [0.50, 0.52, 0.54])
    half = 2.776445 * (2 * 0.0004 / 3) ** 0.5  # t(0.975, 4) * se = 0.045339
    assert df == pytest.approx(4.0)
    assert (low, high) == pytest.approx((0.10 - half, 0.10 + half), abs=1e-6)
    assert (low, high) == pytest.approx((0.054661, 0.145339), abs=1e-6)
    assert sw.welch_ci([0.6], [0.5, 0.52]) is None


def fake_results(path: Path, acc: float | None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    metrics = {} if acc is None else {"val/acc1": acc}
    (path / "results.json").write_text(json.dumps({"version": 1, "metrics": metrics, "stages": ["fit"]}))


def test_ablation_table_against_hand_computed_case(tmp_path):
    s = sw.load_sweep(sweep_file(tmp_path))
    runs = tmp_path / "runs"
    acc = {True: [0.50, 0.52, 0.54], False: [0.60, 0.62, 0.64]}
    for t in sw.enumerate_trials(s):
        fake_results(runs / s.name / t.id, acc[t.params["model.init_args.lrn"]][t.params["seed_everything"]])
    base, other = sw.ablation(s, sw.enumerate_trials(s), runs)
    assert base["base"] and base["setting"] == {"model.init_args.lrn": True}  # first value = base
    assert other["n"] == 3 and other["mean"] == pytest.approx(0.62) and other["std"] == pytest.approx(0.02)
    assert other["delta"] == pytest.approx(0.10)
    assert other["ci"][:2] == pytest.approx((0.054661, 0.145339), abs=1e-6)
    md = sw.write_ablation(s, [base, other], runs / s.name)
    assert "| lrn=true (base) | 0.5200 ± 0.0200 | 3 | base | — |" in md
    assert "| lrn=false | 0.6200 ± 0.0200 | 3 | +0.1000 | [+0.0547, +0.1453] |" in md
    assert (runs / s.name / "ablation.csv").read_text().count("\n") == 3


def test_report_tabulates_further_metrics_over_the_same_trials(tmp_path):
    s = sw.load_sweep(sweep_file(tmp_path))
    runs = tmp_path / "runs"
    for t in sw.enumerate_trials(s):
        lrn, seed = t.params["model.init_args.lrn"], t.params["seed_everything"]
        path = runs / s.name / t.id
        path.mkdir(parents=True)
        metrics = {"val/acc1": 0.5, "val/edge": (0.7 if lrn else 0.6) + 0.01 * seed}
        (path / "results.json").write_text(json.dumps({"version": 1, "metrics": metrics, "stages": ["fit"]}))
    trials = sw.enumerate_trials(s)
    edge = dataclasses.replace(s, metric="val/edge")
    md = sw.write_ablation(s, sw.ablation(s, trials, runs), runs / s.name, [(edge, sw.ablation(edge, trials, runs))])
    assert f"## Ablation: {s.name} — val/acc1" in md and f"## Ablation: {s.name} — val/edge" in md
    assert "| lrn=false | 0.6100 ± 0.0100 | 3 | -0.1000 |" in md  # the val/edge table
    assert (runs / s.name / "ablation.csv").read_text().count("val/edge") == 2


@pytest.mark.parametrize(("change", "message"), [
    ({"base": {"lrn": True}}, "unknown top-level key 'base'"),
    ({"parameters": {"model.init_args.lrn": {"values": []}}}, "parameters.model.init_args.lrn.values"),
    ({"parameters": {"model.init_args.lr": {"min": 0.1, "max": 1.0}}}, "parameters.model.init_args.lr: grid"),
    ({"parameters": {"model init lr": {"values": [1]}}}, "not a CLI key"),
    ({"parameters": {"run_id": {"values": ["a"]}}}, "set by paperlab sweep"),
    ({"parameters": {"model.init_args.lrn": {"vals": [1]}}}, "unknown key 'vals'"),
    ({"method": "hyperband"}, "method"),
    ({"command": ["python", "-m", "experiments", "fit", "--config", DEMO]}, "${args}"),
    ({"command": ["python", "-m", "experiments", "fit", "--config", "nowhere.yaml", "${args}"]}, "nowhere.yaml"),
    ({"command": None}, "command: missing"),
])
def test_bad_sweep_files_name_the_key(tmp_path, change, message):
    with pytest.raises(sw.SweepError) as e:
        sw.load_sweep(sweep_file(tmp_path, **change))
    assert message in str(e.value)


def test_bad_file_exits_2_and_writes_nothing(tmp_path, capsys):
    path = sweep_file(tmp_path, parameters={"model.init_args.lrn": {"values": []}})
    with pytest.raises(SystemExit) as e:
        sw.main([str(path), "--runs-dir", str(tmp_path / "runs")])
    assert e.value.code == 2 and "values: must be a non-empty list" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_wandb_offline_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "offline")
    with pytest.raises(SystemExit) as e:
        sw.main([str(sweep_file(tmp_path)), "--wandb", "--runs-dir", str(tmp_path / "runs")])
    assert e.value.code == 2 and "offline cannot host a sweep" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_failed_trial_is_recorded_and_the_sweep_goes_on_then_resumes(tmp_path):
    s = sw.load_sweep(sweep_file(tmp_path))
    runs = tmp_path / "runs"
    trials = sw.enumerate_trials(s)
    launched: list[str] = []
    crash_once = {trials[1].id}

    def launcher(cmd, run_dir):
        launched.append(run_dir.name)
        if run_dir.name in crash_once:
            crash_once.discard(run_dir.name)
            return 1, "Traceback ...\nRuntimeError: boom"
        fake_results(run_dir, 0.5)
        return 0, ""

    state = sw.State(runs / s.name / "sweep_state.json")
    assert sw.run_local(s, trials, runs, state, parallel=2, launcher=launcher) == 1
    assert sorted(launched) == sorted(t.id for t in trials)
    saved = json.loads((runs / s.name / "sweep_state.json").read_text())["trials"]
    assert saved[trials[1].id]["status"] == "failed" and saved[trials[1].id]["returncode"] == 1
    assert "RuntimeError: boom" in saved[trials[1].id]["stderr_tail"]
    assert sum(v["status"] == "done" for v in saved.values()) == 5
    launched.clear()  # restart: only the failed trial runs again
    assert sw.run_local(s, trials, runs, sw.State(state.path), launcher=launcher) == 0
    assert launched == [trials[1].id]
    assert json.loads(state.path.read_text())["trials"][trials[1].id]["attempts"] == 2


def test_a_trial_stopped_by_a_signal_is_resumed_from_its_checkpoint(tmp_path):
    """A trial killed by SIGTERM (the sweep's own stop passes it on) left checkpoints/interrupted.ckpt:
    the restart continues it; a finished trial that only lost its results.json starts again."""
    s = sw.load_sweep(sweep_file(tmp_path))
    runs = tmp_path / "runs"
    stopped, lost = sw.enumerate_trials(s)[:2]
    commands: dict[str, list[str]] = {}

    def launcher(cmd, run_dir):
        commands[run_dir.name] = cmd
        if run_dir.name == stopped.id and "--ckpt_path" not in cmd:
            (run_dir / "checkpoints").mkdir(parents=True)
            (run_dir / "checkpoints" / "interrupted.ckpt").write_bytes(b"")
            return 143, "paperlab: SIGTERM: stopped at epoch 0, step 3; resume with: ..."
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"")
        fake_results(run_dir, 0.5)
        return 0, ""

    state = sw.State(runs / s.name / "sweep_state.json")
    assert sw.run_local(s, [stopped, lost], runs, state, launcher=launcher) != 0
    (runs / s.name / lost.id / "results.json").unlink()
    commands.clear()
    assert sw.run_local(s, [stopped, lost], runs, sw.State(state.path), launcher=launcher) == 0
    stop = runs / s.name / stopped.id / "checkpoints" / "interrupted.ckpt"
    assert commands[stopped.id][-2:] == ["--ckpt_path", str(stop.resolve())]
    assert "--ckpt_path" not in commands[lost.id]


def test_parallel_trials_print_whole_lines(tmp_path, monkeypatch):
    """Trials' threads print at once; a stdout that yields between writes makes any split line show."""

    class Yielding(io.StringIO):
        def write(self, text: str) -> int:
            n = super().write(text)
            time.sleep(0.002)  # let another thread write before this line's newline
            return n

    out = Yielding()
    monkeypatch.setattr(sys, "stdout", out)
    s = sw.load_sweep(sweep_file(tmp_path))
    trials = sw.enumerate_trials(s)

    def launcher(cmd, run_dir):
        fake_results(run_dir, 0.5)
        return 0, ""

    assert sw.run_local(s, trials, tmp_path / "runs", sw.State(tmp_path / "s.json"), parallel=6, launcher=launcher) == 0
    lines = out.getvalue().splitlines()
    launches = [line for line in lines if "launch" in line]
    assert sorted(line.split()[1] for line in launches) == sorted(t.id for t in trials)
    assert all(line.startswith("launch ") and line.count("launch") == 1 for line in launches), launches


def test_parallel_trials_split_the_cores_between_them(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(sw.os, "cpu_count", lambda: 8)
    s = sw.load_sweep(sweep_file(tmp_path))
    seen: list[str | None] = []

    def launcher(cmd, run_dir):
        seen.append(os.environ.get("OMP_NUM_THREADS"))
        fake_results(run_dir, 0.5)
        return 0, ""

    runs = tmp_path / "runs"
    assert sw.run_local(s, sw.enumerate_trials(s), runs, sw.State(runs / "a.json"), parallel=4, launcher=launcher) == 0
    assert set(seen) == {"2"} and "OMP_NUM_THREADS" not in os.environ  # 8 cores / 4 trials, then restored
    seen.clear()
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice wins
    assert sw.run_local(s, sw.enumerate_trials(s), tmp_path / "r2", sw.State(tmp_path / "b.json"), parallel=2,
                        launcher=launcher) == 0
    assert set(seen) == {"3"}


def test_wandb_agent_runs_the_same_subprocess_with_the_agents_parameters(tmp_path, monkeypatch):
    s = sw.load_sweep(sweep_file(tmp_path))
    commands: list[list[str]] = []

    def launcher(cmd, run_dir):
        commands.append(cmd)
        fake_results(run_dir, 0.5)
        return 0, ""

    def agent(sweep_id, function, project, entity, count):
        assert sweep_id == "sw1" and project == "paperlab"
        for run_id, lrn in (("wb1", True), ("wb2", False)):  # what pyagent does before each call
            param_file = tmp_path / f"config-{run_id}.yaml"
            param_file.write_text(yaml.safe_dump({"wandb_version": 1, "model.init_args.lrn": {"value": lrn},
                                                  "seed_everything": {"value": 0}}))
            monkeypatch.setenv("WANDB_RUN_ID", run_id)
            monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(param_file))
            function()

    fake = types.SimpleNamespace(sweep=lambda sweep, project, entity: "sw1", agent=agent,
                                 errors=types.SimpleNamespace(Error=RuntimeError))
    monkeypatch.setitem(sys.modules, "wandb", fake)
    state = sw.State(tmp_path / "runs" / s.name / "sweep_state.json")
    assert sw.run_wandb(s, tmp_path / "runs", state, None, launcher=launcher) == 0
    assert [c[c.index("--run_id") + 1] for c in commands] == ["wb1", "wb2"]
    assert commands[1][-2:] == ["--model.init_args.lrn=false", "--seed_everything=0"]
    assert set(state.data["trials"]) == {"wb1", "wb2"}


# ----------------------------------------------------------------------------- trials on many processes

def test_nproc_per_node_runs_each_trial_under_torchrun_as_its_own_trials(tmp_path, monkeypatch):
    path = sweep_file(tmp_path)
    monkeypatch.setattr(sw, "check_cli", lambda *a: None)
    seen: list[list[str]] = []
    monkeypatch.setattr(sw, "launch", lambda cmd, run_dir: (seen.append(cmd), (1, "no training here"))[1])
    with pytest.raises(SystemExit):
        sw.main([str(path), "--runs-dir", str(tmp_path / "runs"), "--nproc-per-node", "2"])
    plain = {t.id for t in sw.enumerate_trials(sw.load_sweep(path))}
    assert len(seen) == len(plain)
    for cmd in seen:
        assert cmd[:6] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           "-m"]
        assert cmd[6:8] == ["experiments", "fit"]
        assert "--trainer.devices=2" in cmd and "--trainer.strategy=ddp" in cmd
        # the world size sets the effective batch: these are other trials than the 1-process ones
        assert cmd[cmd.index("--run_id") + 1] not in plain


def test_cluster_options_that_cannot_go_together_exit_2(tmp_path, capsys):
    path = str(sweep_file(tmp_path))
    for argv, message in (([path, "--slurm", "--nodes", "2"], "--time"),
                          ([path, "--slurm", "--time", "1:00:00", "--nproc-per-node", "2"], "--gpus-per-node"),
                          ([path, "--nodes", "0", "--trial-index", "0"], "--nodes")):
        with pytest.raises(SystemExit) as e:
            sw.main([*argv, "--runs-dir", str(tmp_path / "runs")])
        assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_slurm_array_script_runs_trial_i_in_task_i(tmp_path, capsys, monkeypatch):
    path = sweep_file(tmp_path)
    monkeypatch.setattr(sw, "check_cli", lambda *a: None)
    runs = tmp_path / "runs"
    shape = ["--nodes", "2", "--gpus-per-node", "4", "--set", "trainer.max_epochs=1", "--runs-dir", str(runs)]
    sw.main([str(path), "--slurm", "--time", "02:00:00", "--partition", "p", "--account", "a", "--dry-run", *shape])
    text = capsys.readouterr().out
    head = [line for line in text.splitlines() if line.startswith("#SBATCH")]
    n = len(sw.enumerate_trials(sw.load_sweep(path)))
    for want in (f"--array=0-{n - 1}", "--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4", "--time=02:00:00",
                 "--partition=p", "--account=a", "--signal=SIGUSR1@90", "--requeue"):
        assert f"#SBATCH {want}" in head, want
    assert not runs.exists()  # a dry run writes nothing
    run = [line for line in text.splitlines() if "--trial-index" in line]
    assert len(run) == 1 and run[0].endswith('--trial-index "$SLURM_ARRAY_TASK_ID"')
    task_argv = run[0].split()[4:-2]  # python -m experiments sweep | FILE ... | --trial-index $I
    listed = [line.split()[2] for line in text.splitlines() if line.startswith("#   ")]
    assert len(listed) == n

    # task i, in its allocation: trial i (the id listed in the script) through srun
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    seen: list[list[str]] = []
    monkeypatch.setattr(sw, "launch", lambda cmd, run_dir: (seen.append(cmd), (0, ""))[1])
    for i in (0, n - 1):
        seen.clear()
        with pytest.raises(SystemExit) as e:
            sw.main([*task_argv, "--trial-index", str(i)])
        assert e.value.code != 0  # the fake launcher wrote no results.json
        assert len(seen) == 1 and seen[0][:2] == ["srun", sys.executable]
        cmd = seen[0]
        assert cmd[cmd.index("--run_id") + 1] == listed[i]
        for part in ("--trainer.num_nodes=2", "--trainer.devices=4", "--trainer.strategy=ddp",
                     "--trainer.accelerator=gpu", "--trainer.max_epochs=1"):
            assert part in cmd, part
    with pytest.raises(SystemExit) as e:
        sw.main([*task_argv, "--trial-index", str(n)])
    assert e.value.code == 2


def test_a_requeued_array_task_resumes_its_trial(tmp_path):
    """SIGUSR1 before the time limit: the trial saved interrupted.ckpt and the job was requeued; the
    trial's run id is explicit (no CLI auto-resume), so the task itself passes --ckpt_path."""
    s = sw.load_sweep(sweep_file(tmp_path))
    trials, runs = sw.enumerate_trials(s), tmp_path / "runs"
    commands: list[list[str]] = []

    def launcher(cmd, run_dir):
        commands.append(cmd)
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        if "--ckpt_path" not in cmd:
            (run_dir / "checkpoints" / "interrupted.ckpt").write_bytes(b"")
            return 138, "paperlab: SIGUSR1: stopped at epoch 0, step 3; requeued SLURM job 5_1"
        fake_results(run_dir, 0.5)
        return 0, ""

    assert sw.run_index(s, trials, 1, runs, launcher) == 138
    stop = runs / s.name / trials[1].id / "checkpoints" / "interrupted.ckpt"
    assert "--ckpt_path" not in commands[0] and commands[0][commands[0].index("--run_id") + 1] == trials[1].id
    assert sw.run_index(s, trials, 1, runs, launcher) == 0  # the requeued task
    assert commands[1][-2:] == ["--ckpt_path", str(stop.resolve())]
    state = json.loads((runs / s.name / "trial_state" / f"{trials[1].id}.json").read_text())
    assert state["trials"][trials[1].id]["attempts"] == 2 and state["trials"][trials[1].id]["status"] == "done"
    assert sw.run_index(s, trials, 1, runs, launcher) == 0 and len(commands) == 2  # done: not run again


def test_the_wandb_agent_launches_its_trials_under_torchrun_too(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setattr(sw, "check_cli", lambda *a: None)
    seen: list[list[str]] = []
    monkeypatch.setattr(sw, "launch", lambda cmd, run_dir: (seen.append(cmd), (0, ""))[1])

    def run_wandb(sweep, runs_dir, state, sweep_id, launcher, count=None):  # the agent's call, without W&B
        return sw.run_trial(sweep, sw.Trial("agentrun", {"seed_everything": 0}), runs_dir, state, launcher) != 0
    monkeypatch.setattr(sw, "run_wandb", run_wandb)
    with pytest.raises(SystemExit):  # the fake launcher wrote no results.json
        sw.main([str(sweep_file(tmp_path)), "--wandb", "--nproc-per-node", "2", "--runs-dir", str(tmp_path / "runs")])
    assert seen[0][2:5] == ["torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    assert "--trainer.devices=2" in seen[0] and seen[0][seen[0].index("--run_id") + 1] == "agentrun"


def test_slurm_wandb_array_tasks_are_one_trial_agents_and_a_requeued_task_resumes_its_trial(tmp_path, monkeypatch,
                                                                                         capsys):
    """``--slurm --wandb``: the sweep is registered once, every array task runs ``--wandb --sweep-id ID
    --count 1`` (fake sbatch); a task's agent trial goes through srun, and the requeued task relaunches
    that trial (same W&B run id, --ckpt_path of its stop) without asking the agent for another."""
    path = sweep_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setattr(sw, "check_cli", lambda *a: None)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {tmp_path / "submitted.sbatch"}\necho "Submitted batch job 500"\n')
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    registered: list[dict] = []
    handed: list[int] = []

    def agent(sweep_id, function, project, entity, count):  # what pyagent does for one trial
        assert sweep_id == "sw9" and count == 1
        handed.append(count)
        param_file = tmp_path / "config-wb7.yaml"
        param_file.write_text(yaml.safe_dump({"model.init_args.lrn": {"value": False}, "seed_everything": {"value": 2}}))
        monkeypatch.setenv("WANDB_RUN_ID", "wb7")
        monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(param_file))
        with contextlib.suppress(RuntimeError):  # a failed trial: the agent marks the run failed and goes on
            function()

    fake = types.SimpleNamespace(sweep=lambda sweep, project, entity: (registered.append(sweep), "sw9")[1],
                                 agent=agent, errors=types.SimpleNamespace(Error=RuntimeError))
    monkeypatch.setitem(sys.modules, "wandb", fake)
    runs = tmp_path / "runs"
    sw.main([str(path), "--slurm", "--wandb", "--nodes", "2", "--gpus-per-node", "4", "--time", "01:00:00",
             "--runs-dir", str(runs)])
    assert len(registered) == 1 and "Submitted batch job 500" in capsys.readouterr().out
    text = (tmp_path / "submitted.sbatch").read_text()
    n = len(sw.enumerate_trials(sw.load_sweep(path)))
    assert f"#SBATCH --array=0-{n - 1}" in text and "#SBATCH --requeue" in text
    (task_line,) = [line for line in text.splitlines() if "-m experiments sweep" in line]
    assert task_line.endswith("--wandb --sweep-id sw9 --count 1") and "--trial-index" not in task_line
    task_argv = task_line.split()[4:]  # python -m experiments sweep | FILE ...

    # array task 3 of job 500: the agent's one trial, through srun; SIGUSR1 stops it and requeues the task
    for key, value in {"SLURM_JOB_ID": "503", "SLURM_ARRAY_JOB_ID": "500", "SLURM_ARRAY_TASK_ID": "3"}.items():
        monkeypatch.setenv(key, value)
    seen: list[list[str]] = []

    def launch(cmd, run_dir):
        seen.append(cmd)
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        if "--ckpt_path" not in cmd:
            (run_dir / "checkpoints" / "interrupted.ckpt").write_bytes(b"")
            return 138, "paperlab: SIGUSR1: stopped at epoch 0, step 3; requeued SLURM job 500_3"
        fake_results(run_dir, 0.5)
        return 0, ""

    monkeypatch.setattr(sw, "launch", launch)
    with pytest.raises(SystemExit) as e:
        sw.main(task_argv)
    assert e.value.code == 1 and handed == [1]
    assert seen[0][:2] == ["srun", sys.executable] and seen[0][seen[0].index("--run_id") + 1] == "wb7"
    assert "--trainer.num_nodes=2" in seen[0] and seen[0][-2:] == ["--model.init_args.lrn=false", "--seed_everything=2"]

    with pytest.raises(SystemExit) as e:  # the requeued task (same array job and task id)
        sw.main(task_argv)
    assert e.value.code == 0 and handed == [1]  # the agent was not asked again
    stop = runs / "lrn" / "wb7" / "checkpoints" / "interrupted.ckpt"
    assert seen[1][seen[1].index("--run_id") + 1] == "wb7" and seen[1][-2:] == ["--ckpt_path", str(stop.resolve())]
    assert sw.is_done(runs / "lrn" / "wb7")
    assert not (runs / "lrn" / "sweep_state.json").exists()  # tasks on other nodes: each its own state file
