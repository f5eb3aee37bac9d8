"""``loopwatch ui``: the dashboard over HTTP (incidents, models, health, cohorts, flags, audit log)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from loopwatch.cli import control, render
from loopwatch.cli.app import SpecOption, StoreOption, command, fail, settings


@command()
def ui(
    spec: SpecOption = None,
    store: StoreOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8765,
    users: Annotated[list[str] | None, typer.Option(
        "--user", metavar="NAME:ROLE:ENV_VAR", show_default=False,
        help="A user besides the spec's ui.users: role read or operator, token in the environment "
             "variable ENV_VAR (repeatable)")] = None,
    secure_cookie: Annotated[bool, typer.Option(
        "--secure-cookie", help="Mark the session cookie Secure (behind an HTTPS proxy)")] = False,
) -> None:
    """Serve the dashboard: open alerts first, then models, health, cohorts, flags and the audit log.
    Sign-in by token (read or operator role); operators acknowledge, snooze and resolve alerts and revert
    flags, each audited under their name."""
    try:
        import uvicorn

        from loopwatch.ui import Tokens, create_app
        from loopwatch.ui.auth import parse_user
    except ImportError as exc:
        fail(f"the dashboard needs its extra: pip install 'loopwatch[ui]' ({exc})")
    from loopwatch.core.ui_spec import named_twice
    from loopwatch.storage.sources import open_source

    spec_obj, plane = control.open_control(spec, store)
    with_users = [*spec_obj.ui.users, *(parse_user(u) for u in users or ())]
    twice = named_twice(with_users)
    if twice:
        plane.close()
        fail(f"--user: each user is named once (the spec's ui.users and --user together); named twice: "
             f"{', '.join(twice)}")
    try:
        tokens = Tokens.from_env(with_users, os.environ)
    except Exception:
        plane.close()
        raise
    current = settings()
    key = current.pii_key.get_secret_value().encode() if current.pii_key else None
    app = create_app(spec_obj, plane, tokens, secure_cookie=secure_cookie,
                     open_source=lambda: open_source(spec_obj, location=store or current.store, pii_key=key,
                                                     engine_memory=current.engine_memory))
    if host not in ("127.0.0.1", "localhost", "::1") and not secure_cookie:
        render.err().print(f"note: listening on {host} over plain HTTP: tokens and session cookies cross the "
                           "network in clear; serve it behind an HTTPS proxy and pass --secure-cookie",
                           markup=False)
    roles = ", ".join(f"{u.name} ({u.role})" for u in with_users)
    render.err().print(f"dashboard of {spec_obj.model} on http://{host}:{port} · users: {roles}",
                       markup=False)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", lifespan="on")
