"""``python stop_at_step.py STEP SIGNAL paperlab-args...``: the paperlab CLI, sending itself SIGNAL
(TERM or INT) after training step STEP, as ``kill`` or Ctrl-C would at that moment.

The signal comes from inside so the test knows where the run stops; the handling is the one a
signal from outside gets. The extra callback is added to the trainer, not to the config, so the
resumed run's config equals the stopped run's.
"""

import os
import signal
import sys

import lightning as L

from experiments import cli


class SignalAt(L.Callback):
    def __init__(self, step: int, signum: int) -> None:
        self.step, self.signum, self.sent = step, signum, False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step and not self.sent:  # a GAN's step counts both optimisers
            self.sent = True
            os.kill(os.getpid(), self.signum)


if __name__ == "__main__":
    step, name, *args = sys.argv[1:]
    make = cli.PaperlabCLI.instantiate_trainer

    def instantiate_trainer(self, **kwargs):
        trainer = make(self, **kwargs)
        trainer.callbacks.append(SignalAt(int(step), getattr(signal, f"SIG{name}")))
        return trainer

    cli.PaperlabCLI.instantiate_trainer = instantiate_trainer
    cli.main(args)
