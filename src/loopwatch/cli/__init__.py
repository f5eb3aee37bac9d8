"""The ``loopwatch`` command.

Layout::

    cli/
      main.py       the entry point (``loopwatch = "loopwatch.cli.main:app"``): imports the commands
      app.py        the Typer app; --spec/--store/--format; opening a spec and its store;
                    errors -> exit 2; the ``command`` decorator and ``ExitCode``
      render.py     the one way results look: numbers, intervals, tables that fit the width,
                    findings, JSON
      cohorts.py    --cohort checked against the spec, natural order of cohorts, a row limit
      commands/     one module per command (or group of commands)

Conventions (docs/cli.md): every command takes ``--spec PATH`` (default
``./loopwatch.yaml``, or ``LOOPWATCH_SPEC``); commands that print results take
``--format table|json``. Exit codes (:class:`~loopwatch.cli.app.ExitCode`): 0 ok,
1 something the caller should act on (rows sent to quarantine, a finding that
pages), 2 a usage or input error, with a message that names it.

Adding a command
----------------
1. Write ``cli/commands/<name>.py`` with one function decorated by
   ``@command(act="...")`` from :mod:`loopwatch.cli.app` (``act`` says when it
   exits 1; leave it out for a command that never does). The function's name is
   the command's name; its docstring's first line is its summary in ``--help``;
   every option has ``help=``. Take ``spec: SpecOption = None`` and, where it
   reads a store, ``store: StoreOption = None`` and call ``open_store(spec, store)``;
   where it prints results, ``fmt: FormatOption = Format.table``.
2. Compute with the library (a function returning plain data), then print with
   :mod:`loopwatch.cli.render` only: ``render.table`` for tables,
   ``render.findings`` for findings, ``render.print_json(result.to_dict())`` for
   JSON, ``render.progress()`` for long work. Raise ``typer.Exit(result.exit_code)``
   when the result holds something to act on; let a
   :class:`~loopwatch.errors.LoopwatchError` propagate (it becomes exit 2), and
   call ``usage_error("--option", "what was expected; got ...")`` for a bad value.
   Import heavy modules inside the function, so that ``--help`` stays fast.
3. Import the module in ``cli/commands/__init__.py`` (where it sits in that list
   is where it shows in ``loopwatch --help``) and describe it in ``docs/cli.md``
   under ``## loopwatch <name>``, with every option: ``tests/cli/test_help.py``
   fails until both are done.
"""
