"""`python -m sequence_clients.cli ...`, the same as the `sequence-clients` script."""

from . import main

main()
