"""Every process of a launch derives the same run id from its environment (experiments.launch)."""

from experiments.launch import RUN_ID_ENV, launcher_run_id

SLURM = {"SLURM_JOB_ID": "4242", "SLURM_NTASKS": "8", "SLURM_JOB_NAME": "paperlab"}


def test_slurm_job_names_the_run_and_a_requeue_keeps_it():
    assert launcher_run_id(SLURM) == launcher_run_id({**SLURM, "SLURM_PROCID": "7", "SLURM_RESTART_COUNT": "1"})
    assert "4242" in launcher_run_id(SLURM)
    array = {**SLURM, "SLURM_ARRAY_JOB_ID": "4200", "SLURM_ARRAY_TASK_ID": "3"}
    assert launcher_run_id(array) != launcher_run_id({**array, "SLURM_ARRAY_TASK_ID": "4"})
    assert launcher_run_id({**SLURM, "SLURM_STEP_ID": "1"}) != launcher_run_id(SLURM)


def test_interactive_slurm_and_torchrun_default_name_nothing():
    assert launcher_run_id({**SLURM, "SLURM_JOB_NAME": "bash"}) is None  # salloc shell: each fit its own run
    assert launcher_run_id({"TORCHELASTIC_RUN_ID": "none"}) is None
    assert launcher_run_id({}) is None


def test_torchrun_rdzv_id_and_parent_id_are_folder_safe():
    rid = launcher_run_id({"TORCHELASTIC_RUN_ID": "exp/1:a"})
    assert rid and not set("/\\#?%:") & set(rid)
    assert launcher_run_id({RUN_ID_ENV: "abc", **SLURM}) == "abc"  # the launching parent's wins
