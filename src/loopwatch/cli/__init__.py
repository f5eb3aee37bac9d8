"""The ``loopwatch`` command."""
