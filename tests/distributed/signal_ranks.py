"""``python signal_ranks.py STEP MODE paperlab-args...`` under torchrun: the paperlab CLI, with global
rank 0 sending SIGTERM after training step STEP, as a scheduler would at that moment:

* ``ranks``: to every rank's process (what SLURM does to a job's tasks); the other ranks get it
  somewhere inside their own step, not at the same point as rank 0;
* ``launcher``: to torchrun (rank 0's parent), which forwards it to every worker.

Each rank writes its pid to ``$PAPERLAB_PIDS/<rank>`` at the start of training so that rank 0 can
find the others. The callback is added to the trainer, not to the config, so the resumed run's config
equals the stopped run's.
"""

import os
import signal
import sys
import time
from pathlib import Path

import lightning as L

from experiments import cli


class SignalAt(L.Callback):
    def __init__(self, step: int, mode: str) -> None:
        self.step, self.mode, self.sent = step, mode, False

    def on_train_start(self, trainer, pl_module) -> None:
        pids = Path(os.environ["PAPERLAB_PIDS"])
        pids.mkdir(parents=True, exist_ok=True)
        (pids / str(trainer.global_rank)).write_text(str(os.getpid()))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_rank != 0 or self.sent or trainer.global_step < self.step:
            return
        self.sent = True
        if self.mode == "launcher":
            os.kill(os.getppid(), signal.SIGTERM)
            return
        pids = Path(os.environ["PAPERLAB_PIDS"])
        for rank in reversed(range(trainer.world_size)):  # the others first: rank 0 is in a step boundary
            os.kill(int((pids / str(rank)).read_text()), signal.SIGTERM)
            time.sleep(0.05)


if __name__ == "__main__":
    step, mode, *args = sys.argv[1:]
    make = cli.PaperlabCLI.instantiate_trainer

    def instantiate_trainer(self, **kwargs):
        trainer = make(self, **kwargs)
        if self.subcommand == "fit":
            trainer.callbacks.append(SignalAt(int(step), mode))
        return trainer

    cli.PaperlabCLI.instantiate_trainer = instantiate_trainer
    cli.main(args)
