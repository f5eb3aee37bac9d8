"""The prediction loop's runtime: inputs → features → model → post-processing → action, logged.

A :class:`DecisionLoop` is declared in code, like a web application: the spec, the
feature steps, the model and its baseline, the challenger, the cascade, the safety
rules and the actions. The spec's ``serving`` block gives the experiment shares
and the cost model. Each request is prepared on the event loop (flags, features,
holdout or canary assignment), scored in micro-batches on the batch thread, and
answered with a :class:`~loopwatch.prediction.decision.Decision` that always has an
action and its reason; the decision is then logged through the
:class:`~loopwatch.prediction.logger.DecisionLogger` given as ``logger`` (none: not
logged), after the challenger's shadow score is known.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from loopwatch.core.flags import FlagReader, FlagSet, NoFlags
from loopwatch.core.serving import Serving
from loopwatch.core.spec import Spec
from loopwatch.prediction.assignment import assign
from loopwatch.prediction.batcher import After, Batching, MicroBatcher, Shed
from loopwatch.prediction.cascade import Cascade
from loopwatch.prediction.cost import Pricing
from loopwatch.prediction.decision import Decision, DecisionRequest, Fallback
from loopwatch.prediction.features import Features
from loopwatch.prediction.logger import DecisionLogger
from loopwatch.prediction.models import Model
from loopwatch.prediction.record import RowBuilder
from loopwatch.prediction.runner import HoldoutPolicy, Pending, Runner
from loopwatch.prediction.steps import Actions, FeatureStep, SafetyRule

__all__ = ["DecisionLoop"]

_log = logging.getLogger(__name__)


class DecisionLoop:
    """The hot path of one model: features, scoring in micro-batches, fallbacks, flags, logging.

    Parameters
    ----------
    spec
        The model's spec (features with their owners and fallbacks; ``serving``).
    model
        The model that decides.
    actions
        From score to action.
    features
        How features are computed; a spec feature without a step is read from the
        request's inputs.
    baseline
        Serves when the model fails, and when a mitigation switches to it.
    versions
        Earlier versions a ``rollback`` mitigation may switch to.
    challenger
        Scored in shadow on every decision it does not serve, and serving the
        spec's ``serving.canary`` share.
    cascade
        A cheap model that decides the rows it is confident about.
    rules
        Safety rules that override the model, tried in order.
    post_process
        ``f(score, row) -> score`` applied to the acting score (e.g. calibration).
    holdout_policy
        What decides on the holdout share: ``"default"`` (the default action: no
        decision censors the outcome), ``"baseline"`` (the baseline model's action)
        or a function of the row returning an action.
    flags
        Where mitigations are read (default: none).
    logger
        Where decisions are logged (default: not logged).
    batching
        Rows per model call and wait budget.
    model_threads
        OpenMP threads a model call may use (``None``: the library's default). One
        by default: a scikit-learn gradient-boosting call on a 2-core machine took
        1.7 ms for one row with one thread and 8.7 ms with two on a busy machine
        (docs/DESIGN-NOTES.md), and batches bring the parallelism instead.

    Examples
    --------
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "amount", "dtype": "numeric"}]})
    >>> model = Model(predictor=lambda X: X[:, 0] / 1000, version="v1", features=["amount"])
    >>> loop = DecisionLoop(spec, model=model, actions=Actions(thresholds={"review": 0.5}),
    ...                     rules=[SafetyRule(name="huge", when=lambda r: r["amount"] > 900,
    ...                                       action="block")])
    >>> [(d.action, d.reason) for d in loop.decide_now([{"amount": 600.0}, {"amount": 950.0}])]
    [('review', 'score 0.6000 >= review threshold 0.5'), ('block', 'safety rule huge')]
    """

    def __init__(
        self,
        spec: Spec,
        *,
        model: Model,
        actions: Actions,
        features: Sequence[FeatureStep] = (),
        baseline: Model | None = None,
        versions: Sequence[Model] = (),
        challenger: Model | None = None,
        cascade: Cascade | None = None,
        rules: Sequence[SafetyRule] = (),
        post_process: Callable[[float, Mapping[str, Any]], float] | None = None,
        holdout_policy: str | HoldoutPolicy = "default",
        flags: FlagReader | None = None,
        logger: DecisionLogger | None = None,
        batching: Batching | None = None,
        model_threads: int | None = 1,
    ) -> None:
        known = {f.name for f in spec.features}
        for m in (model, baseline, challenger, *versions, cascade.cheap if cascade else None):
            if m is not None and not set(m.features) <= known:
                raise ValueError(f"model {m.version!r} takes {sorted(set(m.features) - known)}, "
                                 "which are not features of the spec")
        by_version = {m.version: m for m in versions}
        if len(by_version) != len(versions):
            raise ValueError("versions: two models have the same version")
        if not ((isinstance(holdout_policy, str) and holdout_policy in ("default", "baseline"))
                or callable(holdout_policy)):
            raise ValueError(f"holdout_policy must be 'default', 'baseline' or a function; "
                             f"got {holdout_policy!r}")
        if holdout_policy == "baseline" and baseline is None:
            raise ValueError("holdout_policy='baseline' needs a baseline model")
        self.spec = spec
        self.serving = spec.serving or Serving()
        if self.serving.canary > 0 and challenger is None:
            raise ValueError(f"serving.canary is {self.serving.canary} but the loop has no challenger")
        batching = Batching() if batching is None else batching
        if not isinstance(batching, Batching):
            raise ValueError(f"batching must be a Batching; got {batching!r}")
        self.model, self.baseline, self.challenger = model, baseline, challenger
        self.actions, self.batching = actions, batching
        if model_threads is not None and (isinstance(model_threads, bool) or not isinstance(
                model_threads, int) or model_threads < 1):
            raise ValueError(f"model_threads must be an integer >= 1 or None; got {model_threads!r}")
        self.model_threads = model_threads
        self.flags: FlagReader = flags or NoFlags()
        self.logger = logger
        self.pricing = Pricing(self.serving.cost)
        self._feature_threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="loopwatch-feature")
        self.features = Features(spec, features, executor=self._feature_threads)
        self.runner = Runner(model=model, actions=actions, baseline=baseline, versions=by_version,
                             challenger=challenger, cascade=cascade, rules=rules,
                             post_process=post_process, holdout_policy=holdout_policy,
                             price=self.pricing)
        self._row = RowBuilder(spec)
        self._batcher: MicroBatcher[Pending, Decision] | None = None
        self.log_errors = 0
        #: CPU seconds the batch thread spent building and enqueuing logged batches
        self.log_cpu_s = 0.0

    def __repr__(self) -> str:
        return (f"DecisionLoop(model={self.spec.model!r}, version={self.model.version!r}, "
                f"batching={self.batching})")

    # --- preparing a request (event loop) ---------------------------------------------

    async def _prepare(self, request: DecisionRequest, received: float) -> Pending:
        at = datetime.now(UTC)
        decision_id = request.decision_id or uuid.uuid4().hex
        flags = self.flags.current(self.spec.model)
        features = await self.features.compute(request.inputs, flags)
        s = self.serving
        key = request.inputs.get(s.assignment_key) if s.assignment_key != "decision_id" else None
        assignment = assign(str(decision_id if key is None else key), salt=s.salt,
                            holdout=s.holdout, canary=self._canary_share(flags))
        return Pending(decision_id, request.inputs, features, flags, assignment, received, at)

    def _canary_share(self, flags: FlagSet) -> float:
        """The challenger's share: a rollout's canary flag for this challenger, else ``serving.canary``;
        never so large that it would eat into the holdout."""
        if self.challenger is None:
            return 0.0
        step = flags.canary
        if step is None or step.version != self.challenger.version:
            return self.serving.canary
        return min(step.share, max(0.0, 1.0 - self.serving.holdout - 1e-9))

    # --- the batch thread ---------------------------------------------------------------

    def _process(self, items: list[Pending]) -> tuple[list[Decision], After]:
        decided = self.runner.run(items)

        def after() -> None:
            shadows = self.runner.shadow(items, decided)
            if self.logger is None:
                return
            decisions = [d for d, _ in decided]
            cpu = time.thread_time()
            try:  # one enqueue for the batch, built column by column
                self.logger.log_columns(self._row.columns(
                    items, decisions, shadows, [row.steps.get("shadow") for _, row in decided]))
            except Exception:  # logging never fails a decision that was already made
                self.log_errors += len(items)
                _log.exception("could not log a batch of %d decisions", len(items))
            self.log_cpu_s += time.thread_time() - cpu

        return [d for d, _ in decided], after

    def _log(self, item: Pending, decision: Decision, shadow: tuple[float | None, str | None] = (None, None),
             shadow_ms: float | None = None) -> None:
        if self.logger is None:
            return
        try:
            self.logger.log(self._row(item, decision, shadow=shadow, shadow_ms=shadow_ms))
        except Exception:  # logging never fails a decision that was already made
            self.log_errors += 1
            _log.exception("could not log decision %s", decision.decision_id)

    def _unscored(self, item: Pending, shed: Shed) -> Decision:
        """A decision made without the model: the failure action (safety rules still apply)."""
        context = {**item.inputs, **item.features.values}
        action, rule, reason = self.actions.on_failure, None, f"shed ({shed.reason}: {shed.detail})"
        for candidate in self.runner.rules:
            try:
                holds = bool(candidate.when(context))
            except Exception:
                holds = True
            if holds:
                action, rule, reason = candidate.action, candidate.name, f"safety rule {candidate.name}"
                break
        features = item.features
        return Decision(
            decision_id=item.decision_id, action=action, reason=reason, route="shed", score=None,
            model_version=None, threshold=None, features=features.values,
            fallbacks=(*features.fallbacks, Fallback(step="model", served="default", reason=shed.reason,
                                                     detail=shed.detail)),
            flags=tuple(features.flags), rule=rule, error=f"shed: {shed.reason}",
            holdout_probability=item.assignment.holdout_probability,
            latency_ms=(time.perf_counter() - item.received) * 1e3, cpu_ms=features.cpu_s * 1e3,
            cost=self.pricing(features.cpu_s, features.calls), steps_ms=dict(features.steps_ms),
        )

    # --- deciding -----------------------------------------------------------------------

    def _batcher_here(self) -> MicroBatcher[Pending, Decision]:
        loop = asyncio.get_running_loop()
        if self._batcher is None or self._batcher.loop is not loop:
            if self._batcher is not None:  # its event loop is gone (a test client's, say)
                self._batcher.abandon()
            self._batcher = MicroBatcher(self._process, self.batching,
                                         name=f"loopwatch-batch[{self.spec.model}]",
                                         initializer=self._limit_threads)
        return self._batcher

    def _limit_threads(self) -> None:
        if self.model_threads is not None:
            from threadpoolctl import threadpool_limits

            # for this (the batch) thread's OpenMP regions; kept for the thread's life
            threadpool_limits(limits=self.model_threads, user_api="openmp")

    async def decide(self, inputs: Mapping[str, Any], *, decision_id: str | None = None,
                     deadline_ms: float | None = None) -> Decision:
        """Decide one request (batched with concurrent ones)."""
        return (await self.decide_many([DecisionRequest(inputs, decision_id, deadline_ms)]))[0]

    async def decide_many(self, requests: Sequence[DecisionRequest]) -> list[Decision]:
        """Decide a list of requests; their rows join the batches of concurrent requests."""
        batcher = self._batcher_here()
        received = time.perf_counter()
        return list(await asyncio.gather(*(self._one(batcher, r, received) for r in requests)))

    async def _one(self, batcher: MicroBatcher[Pending, Decision], request: DecisionRequest,
                   received: float) -> Decision:
        item = await self._prepare(request, received)
        deadline = None
        if request.deadline_ms is not None:
            deadline = time.monotonic() + request.deadline_ms / 1e3 - (time.perf_counter() - received)
        item.queued = time.perf_counter()
        result = await batcher.submit(item, deadline=deadline)
        if isinstance(result, Shed):
            decision = self._unscored(item, result)
            self._log(item, decision)
            return decision
        return result

    def decide_now(self, inputs: Sequence[Mapping[str, Any] | DecisionRequest]) -> list[Decision]:
        """Decide ``inputs`` as one batch on this thread, without the batcher (scripts, tests, replays).

        Not for use inside a running event loop (use :meth:`decide_many` there).
        """
        requests = [r if isinstance(r, DecisionRequest) else DecisionRequest(r) for r in inputs]

        async def prepare() -> list[Pending]:
            received = time.perf_counter()
            return list(await asyncio.gather(*(self._prepare(r, received) for r in requests)))

        items = asyncio.run(prepare())
        decisions, after = self._process(items)
        if after is not None:
            after()
        return decisions

    async def aclose(self) -> None:
        """Stop the batcher (queued rows are shed) and the feature threads. The logger is the caller's."""
        if self._batcher is not None:
            await self._batcher.close()
            self._batcher = None
        self._feature_threads.shutdown(wait=False, cancel_futures=True)
