"""The ``paperlab`` runner.

The run core lives here: ``cli`` (LightningCLI, run folder, errors as one line), ``build``
(model and data from configs without a run), ``callbacks`` (speed telemetry, results.json),
``method`` (names and headline metrics from the hooks of contracts/hooks.py), ``wandb_extras``,
``provenance``, ``paper``, ``peak``, ``children`` and ``user_errors``. Each tool is a package of
its own with a ``main(argv)`` that ``paperlab TOOL`` calls: ``sweep``, ``report``, ``bench``,
``reproduce`` and ``baselines`` (``paperlab baseline``).
"""
