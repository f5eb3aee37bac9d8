"""The prediction loop over HTTP: ``POST /v1/decide``, ``GET /metrics``, ``/healthz``, ``/readyz``.

``POST /v1/decide`` takes one request object or a list of them and answers in
kind; each row joins the loop's micro-batches. A request that does not fit the
schema, or whose inputs give a feature a value of the wrong type, gets a 422 whose
``error`` names every field at fault (``body[2].inputs.amount: expected a number;
got 'abc'``); a decision is made for every valid request, always with an action
and its reason. With a token, ``/v1/decide`` and ``/metrics`` need
``Authorization: Bearer <token>``. The OpenAPI schema is at ``/openapi.json``.
"""

from __future__ import annotations

import gc
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from loopwatch.prediction.decision import DecisionRequest
from loopwatch.prediction.logger import DecisionLogger
from loopwatch.prediction.loop import DecisionLoop
from loopwatch.service.metrics import ServiceMetrics

__all__ = ["create_app"]

#: Most requests in one call of ``/v1/decide``.
MAX_REQUESTS = 1_000
_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"

Scalar = bool | int | float | str | None


class DecideRequest(BaseModel):
    """One decision to make."""

    model_config = ConfigDict(extra="forbid")

    decision_id: str | None = Field(default=None, min_length=1, max_length=200,
                                    description="Idempotency key of the decision; generated if absent")
    inputs: dict[str, Scalar] = Field(description="The request's inputs: the features the caller "
                                                  "sends and whatever the feature steps read")
    deadline_ms: float | None = Field(default=None, gt=0, le=60_000,
                                      description="Answer within this many ms or shed the request")


class FallbackOut(BaseModel):
    step: str
    served: str
    reason: str
    detail: str | None = None


class DecisionOut(BaseModel):
    """A decision: always an action, and the reason for it."""

    decision_id: str
    action: str
    reason: str
    route: Literal["primary", "canary", "cheap", "baseline", "holdout", "default", "shed"]
    score: float | None
    model_version: str | None
    threshold: float | None
    rule: str | None
    error: str | None
    fallbacks: list[FallbackOut]
    flags: list[str]
    holdout: bool
    latency_ms: float
    cost: float


class ErrorOut(BaseModel):
    error: str


_ONE: TypeAdapter[DecideRequest] = TypeAdapter(DecideRequest)
_MANY: TypeAdapter[list[DecideRequest]] = TypeAdapter(list[DecideRequest])
_REQUEST_SCHEMA = DecideRequest.model_json_schema()
_BODY_SCHEMA = {
    "oneOf": [_REQUEST_SCHEMA, {"type": "array", "items": _REQUEST_SCHEMA, "minItems": 1,
                                "maxItems": MAX_REQUESTS}],
}


def _where(loc: tuple[int | str, ...], prefix: str) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _errors(exc: ValidationError, prefix: str) -> list[str]:
    lines = []
    for e in exc.errors():
        what = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        if e["type"] not in ("extra_forbidden", "missing"):
            what += f"; got {json.dumps(e.get('input'), default=str)[:80]}"
        lines.append(f"{_where(tuple(e['loc']), prefix)}: {what}")
    return lines


def _typed(loop: DecisionLoop) -> Callable[[dict[str, Scalar]], list[tuple[str, str]]]:
    dtypes = {f.name: f.dtype for f in loop.spec.features}
    expected = {"numeric": "a number", "categorical": "a string", "boolean": "true or false"}

    def check(inputs: dict[str, Scalar]) -> list[tuple[str, str]]:
        bad = []
        for name, value in inputs.items():
            dtype = dtypes.get(name)
            if dtype is None or value is None:
                continue
            ok = (isinstance(value, int | float) and not isinstance(value, bool) if dtype == "numeric"
                  else isinstance(value, bool) if dtype == "boolean" else isinstance(value, str))
            if not ok:
                bad.append((name, f"expected {expected[dtype]}; got {json.dumps(value)[:80]}"))
        return bad

    return check


def _unauthorized() -> JSONResponse:
    return JSONResponse({"error": "authorization: expected 'Bearer <token>'"}, status_code=401,
                        headers={"WWW-Authenticate": "Bearer"})


def create_app(loop: DecisionLoop, *, token: str | None = None, logger: DecisionLogger | None = None,
               on_shutdown: Callable[[], Awaitable[None]] | None = None) -> FastAPI:
    """The ASGI app serving ``loop``.

    Parameters
    ----------
    loop
        The decision loop.
    token
        When set, ``/v1/decide`` and ``/metrics`` require ``Authorization: Bearer <token>``.
    logger
        The loop's decision logger, whose counters ``/metrics`` exposes.
    on_shutdown
        Awaited when the server stops, after the loop (e.g. to close the logger).
    """
    metrics = ServiceMetrics(model=loop.spec.model, logger=logger,
                             logging_cpu=lambda: loop.log_cpu_s)
    check_types = _typed(loop)
    state = {"ready": False}
    expected = f"Bearer {token}".encode() if token else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # what start-up loaded (models, modules) is never garbage: keep it out of every
        # collection, so that a full collection does not pause decisions to scan it
        gc.collect()
        gc.freeze()
        state["ready"] = True
        try:
            yield
        finally:
            state["ready"] = False
            await loop.aclose()
            if on_shutdown is not None:
                await on_shutdown()

    app = FastAPI(title=f"loopwatch: {loop.spec.model}", version="1",
                  description="Decisions of the prediction loop, with their reasons.",
                  lifespan=lifespan)

    def allowed(request: Request) -> bool:
        if expected is None:
            return True
        given = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, expected)

    @app.post("/v1/decide", response_model=DecisionOut | list[DecisionOut],
              responses={401: {"model": ErrorOut}, 422: {"model": ErrorOut}},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": _BODY_SCHEMA}}}})
    async def decide(request: Request) -> Any:
        """Decide one request (an object) or several (a list); the answer has the same shape."""
        if not allowed(request):
            metrics.requests.labels("401").inc()
            return _unauthorized()
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            metrics.requests.labels("422").inc()
            return JSONResponse({"error": f"body: not JSON ({exc})"}, status_code=422)
        many = isinstance(body, list)
        try:
            if many:
                if not 1 <= len(body) <= MAX_REQUESTS:
                    raise ValueError(f"body: expected 1 to {MAX_REQUESTS} requests; got {len(body)}")
                parsed = _MANY.validate_python(body)
            else:
                parsed = [_ONE.validate_python(body)]
        except ValidationError as exc:
            metrics.requests.labels("422").inc()
            return JSONResponse({"error": "\n".join(_errors(exc, "body"))}, status_code=422)
        except ValueError as exc:
            metrics.requests.labels("422").inc()
            return JSONResponse({"error": str(exc)}, status_code=422)
        problems = [f"{'body' + (f'[{i}]' if many else '')}.inputs.{name}: {why}"
                    for i, r in enumerate(parsed) for name, why in check_types(r.inputs)]
        if problems:
            metrics.requests.labels("422").inc()
            return JSONResponse({"error": "\n".join(problems)}, status_code=422)
        decisions = await loop.decide_many([DecisionRequest(r.inputs, r.decision_id, r.deadline_ms)
                                            for r in parsed])
        metrics.observe(decisions)
        metrics.requests.labels("200").inc()
        out = [d.to_dict() for d in decisions]
        return JSONResponse(out if many else out[0])

    @app.get("/metrics", response_class=Response,
             responses={200: {"content": {_PROMETHEUS: {}}}, 401: {"model": ErrorOut}})
    async def prometheus(request: Request) -> Response:
        """Prometheus exposition of the loop's decisions and its logger."""
        if not allowed(request):
            return _unauthorized()
        return Response(metrics.render(), media_type=_PROMETHEUS)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"model": ErrorOut}})
    async def readyz() -> Any:
        """Ready to take decisions (started, not shutting down); the logger's state is reported."""
        body: dict[str, Any] = {"ready": state["ready"], "model": loop.spec.model,
                                "model_version": loop.model.version}
        if logger is not None:
            stats = logger.stats()
            body["logger"] = {"pending": stats.pending, "dropped": stats.dropped,
                              "last_error": None if logger.last_error is None else str(logger.last_error)}
        if not state["ready"]:
            return JSONResponse({"error": "not ready: starting or shutting down", **body},
                                status_code=503)
        return body

    return app
