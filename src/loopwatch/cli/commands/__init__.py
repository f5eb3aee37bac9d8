"""The commands of ``loopwatch``, one module each; importing this package registers them all.

A command registers itself on the app when its module is imported (the
``@command`` decorator of :mod:`loopwatch.cli.app`); the order of the imports
below is the order of ``loopwatch --help``.
"""

# isort: off
from loopwatch.cli.commands import init
from loopwatch.cli.commands import simulate
from loopwatch.cli.commands import ingest
from loopwatch.cli.commands import compact
from loopwatch.cli.commands import profile
from loopwatch.cli.commands import summary
from loopwatch.cli.commands import check
from loopwatch.cli.commands import watch
from loopwatch.cli.commands import alerts
from loopwatch.cli.commands import audit
from loopwatch.cli.commands import flags
from loopwatch.cli.commands import models
from loopwatch.cli.commands import gate
from loopwatch.cli.commands import rollout
from loopwatch.cli.commands import compare
from loopwatch.cli.commands import evaluate
from loopwatch.cli.commands import export_training
from loopwatch.cli.commands import ablate
from loopwatch.cli.commands import effect
from loopwatch.cli.commands import serve
from loopwatch.cli.commands import ui
from loopwatch.cli.commands import tail
from loopwatch.cli.commands import features
from loopwatch.cli.commands import reviews
from loopwatch.cli.commands import quarantine
from loopwatch.cli.commands import demo
from loopwatch.cli.commands import report
from loopwatch.cli.commands import inventory
# isort: on

__all__ = ["ablate", "alerts", "audit", "check",
           "compact", "compare", "demo", "effect", "evaluate", "export_training", "features", "flags", "gate",
           "ingest", "init", "inventory", "models", "profile", "quarantine", "report", "reviews",
           "rollout", "serve",
           "simulate", "summary", "tail", "ui", "watch"]
