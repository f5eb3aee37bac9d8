"""The dashboard's ASGI application: sign-in, the pages, and the operators' actions.

Every page is rendered on the server (Jinja2, autoescaped) and every action is a
plain HTML form posted to the server: the pages carry no JavaScript at all, and
the Content-Security-Policy forbids any. Actions go through the control plane's
own methods (:meth:`~loopwatch.storage.control.ControlPlane.acknowledge`,
``snooze``, ``resolve``, :meth:`~loopwatch.storage.control.ControlFlags.revert`),
so each is audited with the signed-in user's name, as the command line audits
``--by``.

Statuses: 303 after an action (back to the page it was taken on); 401 without a
valid sign-in (a page redirects to ``/login`` instead); 429 after more than ten failed
sign-ins from one address in a minute (:class:`~loopwatch.ui.auth.Attempts`); 403 for a ``read`` user's
action or a form whose CSRF token or origin is wrong; 404 for an alert or flag
of another model; 409 when the control plane refuses (an alert already resolved).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from loopwatch.core.spec import Spec, parse_duration
from loopwatch.errors import InputError
from loopwatch.storage.control import ControlFlags, ControlPlane
from loopwatch.ui import pages
from loopwatch.ui.auth import Attempts, Session, Sessions, Tokens, User, same_origin
from loopwatch.ui.views import Background

if TYPE_CHECKING:
    from loopwatch.core.store import DecisionSource

__all__ = ["COOKIE", "Dashboard", "create_app"]

COOKIE = "loopwatch_session"
#: The largest form body accepted (a reason and a few fields).
MAX_FORM_BYTES = 16_384
_HEADERS = {
    # no script of any origin, styles and images from the dashboard only, forms post only to it
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class Dashboard:
    """What the pages read and the actions change: one model's spec, control plane and store."""

    spec: Spec
    plane: ControlPlane
    tokens: Tokens
    sessions: Sessions
    open_source: Callable[[], DecisionSource]
    evaluations: Background
    env: Environment
    attempts: Attempts
    secure_cookie: bool = False
    _source: DecisionSource | None = None

    def source(self) -> DecisionSource:
        """The store (or tables) of the spec, opened on first use."""
        if self._source is None:
            self._source = self.open_source()
        return self._source

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        who = _who(self, request)
        body = self.env.get_template(template).render(
            model=self.spec.model, user=who[0] if who else None,
            csrf=who[1].csrf if who and who[1] else "", path=request.url.path,
            now=datetime.now(UTC), **context)
        return HTMLResponse(body, status_code=status, headers=_HEADERS)

    def problem(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.render(request, "problem.html", status=status, status_code=status, message=message)


def _who(ui: Dashboard, request: Request) -> tuple[User, Session | None] | None:
    """The user of a request (a bearer token, else the session cookie) and the session, if any."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        user = ui.tokens.find(token.strip()) if scheme.lower() == "bearer" else None
        return None if user is None else (user, None)
    cookie = request.cookies.get(COOKIE)
    session = ui.sessions.get(cookie) if cookie else None
    return None if session is None else (session.user, session)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(ui: Dashboard, request: Request) -> Response | None:
    """429 while this client has failed to sign in too often (a wrong token in the form or a header)."""
    wait = ui.attempts.wait(_client(request))
    if not wait:
        return None
    response = ui.problem(request, 429,
                          f"too many failed sign-ins from this address: try again in {wait:.0f} s")
    response.headers["Retry-After"] = str(int(wait) + 1)
    return response


def _safe_next(target: str | None) -> str:
    """A path on this dashboard to go back to; anything else (another site) becomes ``/``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def _form(request: Request) -> dict[str, str] | Response:
    """The posted form's fields (an empty body is an empty form); 415 for another body, 413 for a large
    one."""
    body = b""
    async for chunk in request.stream():  # read no more than the limit, whatever Content-Length says
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return PlainTextResponse(f"form larger than {MAX_FORM_BYTES} bytes", status_code=413)
    if not body:
        return {}
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return PlainTextResponse("expected a form (application/x-www-form-urlencoded)", status_code=415)
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def _origin_ok(request: Request) -> bool:
    return same_origin(request.headers.get("origin"), scheme=request.url.scheme,
                       host=request.headers.get("host"))


async def login_page(request: Request) -> Response:
    ui: Dashboard = request.app.state.ui
    return ui.render(request, "login.html", next=_safe_next(request.query_params.get("next")), failed=False)


async def login(request: Request) -> Response:
    ui: Dashboard = request.app.state.ui
    form = await _form(request)
    if isinstance(form, Response):
        return form
    if not _origin_ok(request):
        return ui.problem(request, 403, "this sign-in form was posted from another site")
    target = _safe_next(form.get("next"))
    refused = _too_many(ui, request)
    if refused is not None:
        return refused
    user = ui.tokens.find(form.get("token", "").strip())
    if user is None:
        ui.attempts.failed(_client(request))
        return ui.render(request, "login.html", status=401, next=target, failed=True)
    session = ui.sessions.start(user)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, session.id, max_age=int(ui.sessions.ttl), httponly=True, samesite="strict",
                        secure=ui.secure_cookie, path="/")
    return response


async def logout(request: Request) -> Response:
    ui: Dashboard = request.app.state.ui
    form = await _form(request)
    if isinstance(form, Response):
        return form
    who = _who(ui, request)
    if who is not None and who[1] is not None:
        if not (_origin_ok(request) and who[1].csrf_matches(form.get("csrf", ""))):
            return ui.problem(request, 403, "this form's CSRF token is missing or stale: reload the page")
        ui.sessions.end(who[1].id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


async def _authorized_action(ui: Dashboard, request: Request) -> tuple[User, dict[str, str]] | Response:
    """The acting user and the form, or the response refusing: 401, 403, 413, 415."""
    refused = _too_many(ui, request)
    if refused is not None:
        return refused
    who = _who(ui, request)
    if who is None:
        if "authorization" in request.headers:
            ui.attempts.failed(_client(request))
        return ui.problem(request, 401, "sign in first: this action needs an operator's token")
    user, session = who
    if not user.may_act:
        return ui.problem(request, 403, f"{user.name} has the read role: only an operator may act")
    form = await _form(request)
    if isinstance(form, Response):
        return form
    if session is not None:  # a browser's cookie: the form must prove it came from this dashboard
        if not _origin_ok(request):
            return ui.problem(request, 403, "this form was posted from another site")
        if not session.csrf_matches(form.get("csrf", "")):
            return ui.problem(request, 403, "this form's CSRF token is missing or stale: reload the page")
    return user, form


async def alert_action(request: Request) -> Response:
    ui: Dashboard = request.app.state.ui
    checked = await _authorized_action(ui, request)
    if isinstance(checked, Response):
        return checked
    user, form = checked
    alert_id, action = request.path_params["alert_id"], request.path_params["action"]
    if action not in ("ack", "snooze", "resolve"):
        return ui.problem(request, 404, f"{action}: not an action on alerts (ack, snooze, resolve)")
    reason = form.get("reason", "").strip()

    def act() -> None:
        alert = ui.plane.alert(alert_id)
        if alert.model != ui.spec.model:
            raise LookupError(alert_id)
        if action == "ack":
            ui.plane.acknowledge(alert_id, actor=user.name, reason=reason or "acknowledged in the dashboard")
        elif action == "resolve":
            ui.plane.resolve(alert_id, actor=user.name, reason=reason or "resolved in the dashboard")
        else:
            text = form.get("for", "").strip()
            try:
                until = datetime.now(UTC) + parse_duration(text)
            except ValueError as exc:
                raise InputError(f"snooze for: expected a duration such as 4h or 2d; got {text!r} ({exc})") \
                    from None
            ui.plane.snooze(alert_id, until=until, actor=user.name, reason=reason)

    return await _run(ui, request, act, form, what=f"alert {alert_id}")


async def flag_revert(request: Request) -> Response:
    ui: Dashboard = request.app.state.ui
    checked = await _authorized_action(ui, request)
    if isinstance(checked, Response):
        return checked
    user, form = checked
    flag_id = request.path_params["flag_id"]

    def act() -> None:
        store = ControlFlags(ui.plane.engine)
        if not any(r["id"] == flag_id for r in store.rows(ui.spec.model, include_reverted=True)):
            raise LookupError(flag_id)
        store.revert(flag_id, actor=user.name,
                     reason=form.get("reason", "").strip() or "reverted in the dashboard")

    return await _run(ui, request, act, form, what=f"flag {flag_id}")


async def _run(ui: Dashboard, request: Request, act: Callable[[], None], form: dict[str, str],
               *, what: str) -> Response:
    try:
        await run_in_threadpool(act)
    except LookupError:
        return ui.problem(request, 404, f"{what}: not an alert or flag of {ui.spec.model}")
    except InputError as exc:
        text = str(exc)
        status = 404 if "no such" in text else 409 if ("is resolved" in text or "already" in text) else 400
        return ui.problem(request, status, text)
    return RedirectResponse(_safe_next(form.get("next")), status_code=303)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def _page(handler: Callable[[Dashboard, Request], Any]) -> Callable[[Request], Any]:
    """A GET page: signed in (else to ``/login``), its data gathered off the event loop."""
    async def endpoint(request: Request) -> Response:
        ui: Dashboard = request.app.state.ui
        if _who(ui, request) is None:
            if "authorization" in request.headers:
                refused = _too_many(ui, request)
                if refused is not None:
                    return refused
                ui.attempts.failed(_client(request))
                return ui.problem(request, 401, "unknown token")
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        template, context = await run_in_threadpool(handler, ui, request)
        return ui.render(request, template, status=int(context.get("status_code", 200)), **context)

    return endpoint


def create_app(spec: Spec, plane: ControlPlane, tokens: Tokens, *, open_source: Callable[[], DecisionSource],
               sessions: Sessions | None = None, attempts: Attempts | None = None,
               secure_cookie: bool = False, evaluation_seconds: float = 600.0) -> Starlette:
    """The dashboard of ``spec``'s model over ``plane``; ``open_source`` opens its store when needed."""
    env = Environment(loader=PackageLoader("loopwatch.ui", "templates"), autoescape=select_autoescape(),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pages.FILTERS)
    ui = Dashboard(spec=spec, plane=plane, tokens=tokens, sessions=sessions or Sessions(),
                   open_source=open_source, evaluations=Background(ttl=evaluation_seconds), env=env,
                   attempts=attempts or Attempts(), secure_cookie=secure_cookie)
    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        *(Route(path, _page(handler), methods=["GET"]) for path, handler in pages.PAGES),
        Route("/alerts/{alert_id}/{action:str}", alert_action, methods=["POST"]),
        Route("/flags/{flag_id:str}/revert", flag_revert, methods=["POST"]),
        Mount("/static", app=StaticFiles(packages=[("loopwatch.ui", "static")]), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.ui = ui

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> Any:
        pages.evaluation(ui, None, None)  # the default window, computed before the first visitor asks
        yield
        plane.close()

    app.router.lifespan_context = lifespan
    return app
