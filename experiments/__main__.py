"""``python -m experiments`` is the ``paperlab`` command."""

from experiments.cli import main

main()
