"""The roadmap.v1 services: translate, call the engine, map errors to statuses.

Every call reads the served rule base once (``holder.current``) so its answer comes
from one version. A client's mistake is INVALID_ARGUMENT with google.rpc.BadRequest
field violations (full paths from the request, e.g. ``assessment.practices[2].progress``);
an engine failure is INTERNAL; an engine process that hung or died is DEADLINE_EXCEEDED
or UNAVAILABLE, and an input that made one do so is refused (FAILED_PRECONDITION);
nothing escapes as UNKNOWN. Each call writes one log line (method, status, duration,
unit id: never the assessment) and its metrics.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2, message_factory
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from roadmap.v1 import roadmap_pb2 as pb
from roadmap.v1 import roadmap_pb2_grpc as pb_grpc

from contract.convert import (
    assessment_from_proto,
    comparison_to_proto,
    explanation_to_proto,
    model_to_proto,
    practice_to_proto,
    rule_base_info,
    summary_to_proto,
    violations_to_proto,
)
from engine.errors import (
    AssessmentError,
    ContainmentError,
    EngineBusyError,
    EngineCrashedError,
    EngineTimeoutError,
    EvaluationError,
    FieldViolation,
    InputRefusedError,
    RuleBaseError,
)
from server.errors import NotLoadedError
from server.observability import EVALUATIONS, log, record_call, worker_index
from server.state import log_refused

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from google.protobuf.descriptor import ServiceDescriptor
    from google.protobuf.message import Message

    from server.state import RuleBaseHolder

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RoadmapService"].full_name
ADMIN_SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AdminService"].full_name
DEFAULT_TOP_BLOCKERS = 10
#: Trailing metadata naming the worker process that answered (for multi-worker setups).
WORKER_METADATA = "roadmap-worker"
#: ... and its process id (distinguishes separate servers behind one target).
PID_METADATA = "roadmap-pid"
MAX_LISTED_PROBLEMS = 20
#: A refusal travels in trailers (grpc-message, grpc-status-details-bin in base64), and
#: gRPC clients refuse metadata past 8 KiB by default: the message and the details stay
#: far under it whatever the input (under 5 KiB together, the message counted twice).
MAX_MESSAGE_CHARS = 1000
MAX_DETAILS_CHARS = 2000
#: Stream items in flight per engine process: one worked out, one waiting for it, so
#: no process waits for the server (``RoadmapService._answers``).
IN_FLIGHT_PER_ENGINE_PROCESS = 2
_END = object()  # a stream's reader: no more items
_TOO_MANY = object()  # a stream's reader: past the items a stream may have

Request = TypeVar("Request")
Response = TypeVar("Response")


class Gate:
    """Counts calls in flight; once closed, new calls are refused with UNAVAILABLE."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._active = 0
        self._closed = False

    def enter(self) -> bool:
        with self._changed:
            if self._closed:
                return False
            self._active += 1
            return True

    def exit(self) -> None:
        with self._changed:
            self._active -= 1
            self._changed.notify_all()

    def close_and_wait(self, timeout: float) -> bool:
        """Refuse new calls; True if the ones in flight finished within ``timeout``."""
        with self._changed:
            self._closed = True
            return self._changed.wait_for(lambda: self._active == 0, timeout)


SHUTTING_DOWN = "the server is shutting down: retry on another instance"


def _first(texts: Sequence[str], budget: int, limit: int = MAX_LISTED_PROBLEMS) -> int:
    """How many of ``texts``, in order, fit in ``budget`` characters (at most ``limit``;
    at least one, cut if it must be)."""
    used = count = 0
    for text in texts[:limit]:
        used += len(text) + 2
        if used > budget and count:
            break
        count += 1
    return count


def listed(problems: Sequence[object], budget: int = MAX_MESSAGE_CHARS) -> str:
    """The first problems for a status message, within ``budget`` characters, and how
    many more."""
    texts = [str(p) for p in problems]
    count = _first(texts, budget)
    shown = "; ".join(texts[:count])[:budget]
    extra = len(texts) - count
    return f"{shown} (and {extra:,} more)" if extra > 0 else shown


def bad_request(violations: Sequence[FieldViolation]) -> error_details_pb2.BadRequest:
    """The violations as google.rpc.BadRequest, within ``MAX_DETAILS_CHARS``: the first
    ones, then one entry saying how many more there are."""
    texts = [f"{v.field}{v.message}" for v in violations]
    count = _first(texts, MAX_DETAILS_CHARS, limit=len(texts))
    kept = [
        error_details_pb2.BadRequest.FieldViolation(
            field=v.field[: MAX_DETAILS_CHARS // 4], description=v.message[: MAX_DETAILS_CHARS // 2]
        )
        for v in violations[:count]
    ]
    if extra := len(violations) - count:
        kept.append(
            error_details_pb2.BadRequest.FieldViolation(
                description=f"and {extra:,} more violations, not listed: fix these first"
            )
        )
    return error_details_pb2.BadRequest(field_violations=kept)


def _abort_bad_request(
    context: grpc.ServicerContext, violations: Sequence[FieldViolation]
) -> NoReturn:
    detail = any_pb2.Any()
    detail.Pack(bad_request(violations))
    status = status_pb2.Status(
        code=code_pb2.INVALID_ARGUMENT,
        message=f"invalid request: {listed(violations)}",
        details=[detail],
    )
    context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("abort_with_status returns only by raising")  # pragma: no cover


def _status_of(context: grpc.ServicerContext) -> grpc.StatusCode | None:
    """The status a handler aborted with, if it did (``code()`` is missing from the stubs)."""
    code: grpc.StatusCode | None = context.code()  # type: ignore[attr-defined]
    return code


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an error becomes: the status a caller sees, the ``outcome`` label of the
    evaluations metric (None: not an evaluation), how loudly it is logged, and the
    message (``{}`` is the error's own)."""

    code: grpc.StatusCode
    evaluation: str | None
    log_level: str | None  # None: the request line says enough
    message: str = "{}"


#: The one table from error to status, for unary calls and stream items alike; the
#: first entry whose type matches wins.
OUTCOMES: tuple[tuple[type[Exception], Outcome], ...] = (
    (AssessmentError, Outcome(grpc.StatusCode.INVALID_ARGUMENT, "invalid", None)),
    (NotLoadedError, Outcome(grpc.StatusCode.UNAVAILABLE, None, None)),
    (EngineTimeoutError, Outcome(grpc.StatusCode.DEADLINE_EXCEEDED, "contained", "warning")),
    # retryable: the worker was replaced
    (EngineCrashedError, Outcome(grpc.StatusCode.UNAVAILABLE, "contained", "warning")),
    # retryable: shed under overload, before any evaluation (the pool's engine_call_shed
    # event and the request line say it: no third line)
    (EngineBusyError, Outcome(grpc.StatusCode.UNAVAILABLE, "shed", None)),
    # not retryable: it would do it again
    (InputRefusedError, Outcome(grpc.StatusCode.FAILED_PRECONDITION, "contained", "warning")),
    (ContainmentError, Outcome(grpc.StatusCode.UNAVAILABLE, "contained", "warning")),
    (
        EvaluationError,
        Outcome(grpc.StatusCode.INTERNAL, "failed", "error", "the rule engine failed: {}"),
    ),
)
EXPECTED = tuple(kind for kind, _ in OUTCOMES)


def outcome_of(error: Exception) -> Outcome:
    return next(outcome for kind, outcome in OUTCOMES if isinstance(error, kind))


def _record(outcome: Outcome, error: Exception, method: str, **fields: Any) -> str:
    """Count and log an expected error; the message the caller gets."""
    if outcome.evaluation is not None:
        EVALUATIONS.labels(outcome=outcome.evaluation).inc()
    if outcome.log_level is not None:
        event = "evaluation_failed" if outcome.evaluation == "failed" else "evaluation_contained"
        getattr(log, outcome.log_level)(
            event, method=method, code=outcome.code.name, error=str(error), **fields
        )
    return outcome.message.format(error)


def _deadline(context: grpc.ServicerContext) -> float | None:
    """The call's deadline as a ``time.monotonic()`` instant, None if it has none."""
    remaining: float | None = context.time_remaining()  # None without a deadline
    if remaining is None:
        return None
    if remaining <= 0:
        raise EngineTimeoutError("the deadline passed before evaluation")
    return time.monotonic() + remaining


def _unary(
    unit_of: Callable[[Any], str] = lambda _: "",
    prefix: tuple[str, ...] = (),
) -> Callable[
    [Callable[[Any, Request, grpc.ServicerContext], Response]],
    Callable[[Any, Request, grpc.ServicerContext], Response],
]:
    """Map errors to statuses (``OUTCOMES``), log one line and record metrics per call.

    ``prefix`` is where the engine's argument sits in the request (``assessment``), so
    that field violations name the request's own paths."""

    def decorate(
        method: Callable[[Any, Request, grpc.ServicerContext], Response],
    ) -> Callable[[Any, Request, grpc.ServicerContext], Response]:
        name = method.__name__

        @functools.wraps(method)
        def handler(self: Any, request: Request, context: grpc.ServicerContext) -> Response:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            entered = False
            try:
                entered = self.gate.enter()
                if not entered:
                    raise _Abort(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)
                context.set_trailing_metadata(
                    ((WORKER_METADATA, str(worker_index())), (PID_METADATA, str(os.getpid())))
                )
                return method(self, request, context)
            except _Abort as exc:
                code = exc.code
                context.abort(exc.code, exc.message)
            except EXPECTED as exc:
                outcome = outcome_of(exc)
                code = outcome.code
                message = _record(outcome, exc, name)
                if isinstance(exc, AssessmentError):
                    _abort_bad_request(context, [v.within(*prefix) for v in exc.violations])
                context.abort(code, message)
            except Exception as exc:  # grpc's own abort, or a bug
                aborted = _status_of(context)
                if aborted is not None:  # aborted on purpose (e.g. deadline)
                    code = aborted
                    raise
                code = grpc.StatusCode.INTERNAL
                log.exception("handler_failed", method=name)
                context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}")
            finally:
                if entered:
                    self.gate.exit()
                record_call(name, code.name, started, unit_id=unit_of(request))

        return handler

    return decorate


class _Abort(Exception):  # noqa: N818  (control flow, not an error of ours)
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _unit(request: Any) -> str:
    return str(request.assessment.unit_id)


def _parsed(
    request_type: type[Message], raw: bytes, method: str, context: grpc.ServicerContext
) -> Any:
    """The request, or INVALID_ARGUMENT: grpc itself answers a bad message with INTERNAL."""
    try:
        return request_type.FromString(raw)
    except DecodeError as exc:
        record_call(method, "INVALID_ARGUMENT", error="undecodable request")
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the request is not a valid {request_type.DESCRIPTOR.full_name} message: {exc}",
        )


def add_to_server(servicer: object, service: ServiceDescriptor, server: grpc.Server) -> None:
    """Register ``servicer`` like the generated ``add_*_to_server``, but decode requests
    in the handler, so that bytes which are not a valid message get INVALID_ARGUMENT."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in service.methods:
        request_type = message_factory.GetMessageClass(method.input_type)
        response_type = message_factory.GetMessageClass(method.output_type)
        implementation = getattr(servicer, method.name)
        if method.client_streaming:

            def stream(
                raw: Iterator[bytes],
                context: grpc.ServicerContext,
                implementation: Any = implementation,
                request_type: type[Message] = request_type,
                name: str = method.name,
            ) -> Any:
                requests = (_parsed(request_type, item, name, context) for item in raw)
                return implementation(requests, context)

            handlers[method.name] = grpc.stream_stream_rpc_method_handler(
                stream, response_serializer=response_type.SerializeToString
            )
        else:

            def unary(
                raw: bytes,
                context: grpc.ServicerContext,
                implementation: Any = implementation,
                request_type: type[Message] = request_type,
                name: str = method.name,
            ) -> Any:
                return implementation(_parsed(request_type, raw, name, context), context)

            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                unary, response_serializer=response_type.SerializeToString
            )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )


class RoadmapService(pb_grpc.RoadmapServiceServicer):
    def __init__(
        self, holder: RuleBaseHolder, gate: Gate, *, max_batch: int, max_stream_items: int
    ) -> None:
        self.holder = holder
        self.gate = gate
        self.max_batch = max_batch
        self.max_stream_items = max_stream_items
        # Stream items worked out ahead of the one being answered (``_answers``).
        self._items = futures.ThreadPoolExecutor(
            max_workers=IN_FLIGHT_PER_ENGINE_PROCESS * max(1, holder.engine_workers),
            thread_name_prefix="stream-item",
        )

    @_unary(_unit, prefix=("assessment",))
    def GetRoadmap(
        self, request: pb.GetRoadmapRequest, context: grpc.ServicerContext
    ) -> pb.GetRoadmapResponse:
        response = self.holder.current.roadmap(request.assessment, deadline=_deadline(context))
        EVALUATIONS.labels(outcome="ok").inc()
        return response

    def StreamRoadmaps(
        self, request_iterator: Iterable[pb.StreamRoadmapsRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.StreamRoadmapsResponse]:
        started = time.perf_counter()
        items = errors = 0
        code = grpc.StatusCode.OK
        if not self.gate.enter():
            record_call("StreamRoadmaps", "UNAVAILABLE")
            context.abort(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)
        try:
            for response in self._answers(request_iterator, context):
                items += 1
                errors += response.HasField("error")
                yield response
        except Exception:
            code = _status_of(context) or grpc.StatusCode.CANCELLED
            raise
        finally:
            self.gate.exit()
            record_call("StreamRoadmaps", code.name, started, items=items, item_errors=errors)

    def _answers(
        self, requests: Iterable[pb.StreamRoadmapsRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.StreamRoadmapsResponse]:
        """Each item's answer, in the items' order.

        With two engine processes or more, the items after the one being answered are
        already worked out in the others, so a stream uses every core
        (``IN_FLIGHT_PER_ENGINE_PROCESS``; two against one per process: 4 of 4 paired
        runs faster). A reader thread takes the items in, so a caller that waits for each
        answer before sending the next item is answered as before."""
        if self.holder.engine_workers < 2:
            for index, request in enumerate(requests):
                if index == self.max_stream_items:
                    self._too_many(context)
                yield self._stream_item(index, request, context)
            return
        slots = threading.Semaphore(IN_FLIGHT_PER_ENGINE_PROCESS * self.holder.engine_workers)
        ready: queue.SimpleQueue[Any] = queue.SimpleQueue()
        stopped = threading.Event()

        def read() -> None:
            try:
                for index, request in enumerate(requests):
                    if index == self.max_stream_items:
                        ready.put(_TOO_MANY)
                        return
                    slots.acquire()
                    if stopped.is_set():
                        return
                    ready.put(self._items.submit(self._stream_item, index, request, context))
                ready.put(_END)
            except BaseException as exc:
                ready.put(exc)

        threading.Thread(target=read, name="stream-reader", daemon=True).start()
        try:
            while (item := ready.get()) is not _END:
                if item is _TOO_MANY:
                    self._too_many(context)
                if isinstance(item, BaseException):
                    raise item
                response = item.result()
                slots.release()
                yield response
        finally:
            stopped.set()
            slots.release()  # a reader waiting for a slot sees ``stopped``

    def _too_many(self, context: grpc.ServicerContext) -> NoReturn:
        context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"too many items: at most {self.max_stream_items:,} per stream "
            f"(the first {self.max_stream_items:,} were answered): split the stream",
        )

    def _stream_item(
        self, index: int, request: pb.StreamRoadmapsRequest, context: grpc.ServicerContext
    ) -> pb.StreamRoadmapsResponse:
        unit_id = request.assessment.unit_id
        try:
            # Per item: a reload switches versions between items.
            roadmap = self.holder.current.roadmap(request.assessment, deadline=_deadline(context))
        except EXPECTED as exc:
            outcome = outcome_of(exc)
            message = _record(outcome, exc, "StreamRoadmaps", index=index)
            error = pb.ItemError(code=outcome.code.name, message=message)
            if isinstance(exc, AssessmentError):
                violations = [v.within("assessment") for v in exc.violations]
                error.message = f"invalid assessment: {listed(violations)}"
                error.field_violations.extend(violations_to_proto(violations))
            return pb.StreamRoadmapsResponse(unit_id=unit_id, index=index, error=error)
        EVALUATIONS.labels(outcome="ok").inc()
        return pb.StreamRoadmapsResponse(unit_id=unit_id, index=index, roadmap=roadmap)

    @_unary(lambda r: f"{len(r.assessments)} units")
    def SummarizePortfolio(
        self, request: pb.SummarizePortfolioRequest, context: grpc.ServicerContext
    ) -> pb.SummarizePortfolioResponse:
        snapshot = self.holder.current
        if len(request.assessments) > self.max_batch:
            raise AssessmentError(
                [
                    FieldViolation(
                        ("assessments",),
                        f"too many items: {len(request.assessments)} (at most {self.max_batch})",
                    )
                ]
            )
        if request.top_blockers < 0:
            raise AssessmentError([FieldViolation(("top_blockers",), "must not be negative")])
        roadmaps, summary = snapshot.engine.portfolio(
            [assessment_from_proto(a) for a in request.assessments],
            top=request.top_blockers or DEFAULT_TOP_BLOCKERS,
            deadline=_deadline(context),
        )
        EVALUATIONS.labels(outcome="ok").inc(len(roadmaps))
        return summary_to_proto(summary, snapshot.rulebase)

    @_unary(lambda r: str(r.before.unit_id))
    def CompareAssessments(
        self, request: pb.CompareAssessmentsRequest, context: grpc.ServicerContext
    ) -> pb.CompareAssessmentsResponse:
        snapshot = self.holder.current
        deadline = _deadline(context)
        comparison = snapshot.engine.compare(
            assessment_from_proto(request.before),
            assessment_from_proto(request.after),
            deadline=deadline,
        )
        EVALUATIONS.labels(outcome="ok").inc(2)
        return comparison_to_proto(comparison, snapshot.rulebase)

    @_unary(_unit)
    def ExplainPractice(
        self, request: pb.ExplainPracticeRequest, context: grpc.ServicerContext
    ) -> pb.ExplainPracticeResponse:
        snapshot = self.holder.current
        explanation = snapshot.engine.explain(
            request.practice_id,
            assessment_from_proto(request.assessment),
            deadline=_deadline(context),
        )
        EVALUATIONS.labels(outcome="ok").inc()
        return explanation_to_proto(explanation, snapshot.rulebase)

    @_unary()
    def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.ServicerContext
    ) -> pb.ListModelsResponse:
        rulebase = self.holder.current.rulebase
        return pb.ListModelsResponse(
            models=[
                model_to_proto(m, len(rulebase.practices_of(m.id)))
                for m in rulebase.models.values()
            ]
        )

    @_unary()
    def ListPractices(
        self, request: pb.ListPracticesRequest, context: grpc.ServicerContext
    ) -> pb.ListPracticesResponse:
        rulebase = self.holder.current.rulebase
        if problems := rulebase.selection_problems(request.model, request.axis, request.level):
            raise AssessmentError(problems)
        practices = rulebase.select(request.model, request.axis, request.level)
        return pb.ListPracticesResponse(practices=[practice_to_proto(p) for p in practices])

    @_unary()
    def GetRuleBaseInfo(
        self, request: pb.GetRuleBaseInfoRequest, context: grpc.ServicerContext
    ) -> pb.GetRuleBaseInfoResponse:
        snapshot = self.holder.current
        return pb.GetRuleBaseInfoResponse(
            rule_base=rule_base_info(snapshot.rulebase, snapshot.loaded_at)
        )


class AdminService(pb_grpc.AdminServiceServicer):
    def __init__(self, holder: RuleBaseHolder, gate: Gate) -> None:
        self.holder = holder
        self.gate = gate

    @_unary()
    def ReloadRuleBase(
        self, request: pb.ReloadRuleBaseRequest, context: grpc.ServicerContext
    ) -> pb.ReloadRuleBaseResponse:
        try:
            snapshot, changed = self.holder.reload()
        except RuleBaseError as exc:
            log_refused(exc, "admin")
            shown = listed(exc.problems)
            raise _Abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"rule base refused, the loaded one keeps serving: {len(exc.problems)} problem(s): {shown}",
            ) from exc
        return pb.ReloadRuleBaseResponse(
            rule_base=rule_base_info(snapshot.rulebase, snapshot.loaded_at), changed=changed
        )
