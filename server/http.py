"""HTTP/JSON beside gRPC: the same servicers over the Connect protocol, and the web app.

``roadmap serve --http-listen HOST:PORT`` serves, on that port:

- every ``roadmap.v1.RoadmapService`` method and ``grpc.health.v1.Health/Check`` at
  ``/<service>/<method>``, by connectrpc (the Connect project's Python runtime): a
  unary call is a POST of the request in JSON (``application/json``) or binary
  (``application/proto``), answered in kind; gRPC-Web works too. Errors are Connect's
  ``{"code": "invalid_argument", "message": ..., "details": [...]}``, with the
  ``google.rpc.BadRequest`` field violations among the details.
- ``StreamRoadmaps`` as a Connect stream (``application/connect+json``). Connect needs
  HTTP/2 for a stream that flows both ways at once; over HTTP/1.1 it is half-duplex:
  the client sends its items, the server answers each as it is computed, in order.
- ``/healthz``: 200 ``SERVING`` or 503 with the status, for probes that speak HTTP.
- the web app (``server/web/``: static files, plain ES modules, no build step).

The handlers are the servicer objects of the gRPC server, called through ``_Call``, a
``grpc.ServicerContext`` over the HTTP request: limits, the drain gate, error mapping
(``server.service.OUTCOMES``), logs (with ``transport: http``) and metrics are the gRPC
path's own. cheroot, a threaded WSGI server, runs the application with as many threads
as the gRPC server has; a request body is refused past ``--max-message-bytes`` (per
message for a stream), as gRPC refuses one.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import grpc
import structlog
from cheroot import wsgi
from connectrpc.code import Code
from connectrpc.compat import google_protobuf_binary_codec
from connectrpc.errors import ConnectError, ErrorDetail
from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType
from connectrpc.server import ConnectWSGIApplication, EndpointSync
from google.protobuf import json_format, message_factory
from google.rpc import status_pb2
from grpc_health.v1 import health_pb2
from protobuf.wkt import Any as ConnectAny
from roadmap.v1 import roadmap_pb2 as pb
from whitenoise import WhiteNoise  # type: ignore[import-untyped]

from server import protojson
from server.observability import REQUESTS, log
from server.service import RoadmapService

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from connectrpc.request import RequestContext
    from google.protobuf.descriptor import MethodDescriptor
    from google.protobuf.message import Message
    from grpc_health.v1.health import HealthServicer

    from server.config import Config
    from server.service import Gate
    from server.state import RuleBaseHolder

WEB = Path(__file__).resolve().parent / "web"
_DETAILS_KEY = "grpc-status-details-bin"
_TO_CONNECT: dict[grpc.StatusCode, Code] = {
    code: Code.CANCELED if code is grpc.StatusCode.CANCELLED else Code[code.name]
    for code in grpc.StatusCode
    if code is not grpc.StatusCode.OK
}
_TO_GRPC = {connect: code for code, connect in _TO_CONNECT.items()}


class _JsonCodec:
    """connectrpc's codec interface over ``server.protojson`` (proto3 JSON)."""

    def name(self) -> str:
        return "json"

    def encode(self, message: Message) -> bytes:
        return protojson.to_json(message)

    def decode(self, data: bytes | bytearray, message_class: type[Message]) -> Message:
        try:
            return protojson.from_json(data, message_class)
        except json_format.ParseError as exc:
            raise ConnectError(
                Code.INVALID_ARGUMENT,
                f"the request is not a valid {message_class.DESCRIPTOR.full_name} in JSON: {exc}",
            ) from None


class _Answered(ConnectError):  # noqa: N818  (a ConnectError, marked as answered)
    """An error a servicer answered with (logged and counted by the servicer already)."""


class _Aborted(Exception):  # noqa: N818  (control flow: grpc's abort raises too)
    def __init__(self, code: grpc.StatusCode, message: str, details: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.error = _Answered(
            _TO_CONNECT[code],
            message,
            [ErrorDetail(ConnectAny(type_url=d.type_url, value=d.value)) for d in details],
        )


class _Call(grpc.ServicerContext):
    """The part of a gRPC call a servicer uses, over a Connect request."""

    def __init__(self, request: RequestContext[Any, Any] | None) -> None:
        self._request = request  # None: a /healthz probe
        self._code: grpc.StatusCode | None = None
        self._details = ""

    def time_remaining(self) -> float | None:  # type: ignore[override]  # None: no deadline
        remaining = None if self._request is None else self._request.timeout_ms
        return None if remaining is None else max(remaining, 0.0) / 1000

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        self._code = code
        raise _Aborted(code, details)

    def abort_with_status(self, status: grpc.Status) -> NoReturn:
        self._code = status.code
        details = status_pb2.Status()
        for key, value in status.trailing_metadata or ():
            if key == _DETAILS_KEY:
                details.ParseFromString(value)
        raise _Aborted(status.code, status.details, details.details)

    def code(self) -> grpc.StatusCode | None:
        """As grpc's own context has it (``server.service`` reads it after an abort)."""
        return self._code

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def failure(self) -> _Answered | None:
        """The error of a handler that set a status instead of raising (health's NOT_FOUND)."""
        if self._code is None or self._code is grpc.StatusCode.OK:
            return None
        return _Answered(_TO_CONNECT[self._code], self._details or self._code.name.lower())

    def set_trailing_metadata(self, trailing_metadata: Any) -> None:
        if self._request is not None:
            for key, value in trailing_metadata:
                self._request.response_trailers[key] = str(value)

    def send_initial_metadata(self, initial_metadata: Any) -> None:
        if self._request is not None:
            for key, value in initial_metadata:
                self._request.response_headers[key] = str(value)

    def invocation_metadata(self) -> Any:
        return () if self._request is None else tuple(self._request.request_headers.allitems())

    def peer(self) -> str:
        address = None if self._request is None else self._request.client_address
        return f"ipv4:{address or 'unknown'}"

    def peer_identities(self) -> None:
        return None

    def peer_identity_key(self) -> None:
        return None

    def auth_context(self) -> dict[str, Any]:
        return {}

    def is_active(self) -> bool:
        return True

    def cancel(self) -> bool:
        """Nothing to cancel: the HTTP server ends the exchange."""
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


def _unary(implementation: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[..., Any]:
    def handle(request: Any, context: RequestContext[Any, Any]) -> Any:
        call = _Call(context)
        try:
            response = implementation(request, call)
        except _Aborted as aborted:
            raise aborted.error from None
        failure = call.failure()
        if failure is not None:
            raise failure
        return response

    return handle


def _stream(
    implementation: Callable[[Iterator[Any], grpc.ServicerContext], Iterator[Any]],
) -> Callable[..., Iterator[Any]]:
    def handle(requests: Iterator[Any], context: RequestContext[Any, Any]) -> Iterator[Any]:
        call = _Call(context)

        def items() -> Iterator[Any]:
            try:
                yield from requests
            except ConnectError as exc:  # an item that is not a valid message
                call.abort(_TO_GRPC.get(exc.code, grpc.StatusCode.INVALID_ARGUMENT), exc.message)

        try:
            yield from implementation(items(), call)
        except _Aborted as aborted:
            raise aborted.error from None

    return handle


def _method_info(method: MethodDescriptor) -> MethodInfo[Any, Any]:
    streaming = method.client_streaming or method.server_streaming
    return MethodInfo(
        name=method.name,
        service_name=method.containing_service.full_name,
        input=message_factory.GetMessageClass(method.input_type),
        output=message_factory.GetMessageClass(method.output_type),
        # The catalogue and roadmap calls only compute: Connect lets them be GETs.
        idempotency_level=IdempotencyLevel.UNKNOWN
        if streaming
        else IdempotencyLevel.NO_SIDE_EFFECTS,
        stream_type=StreamType.BIDI_STREAM if streaming else StreamType.UNARY,
    )


def endpoints(roadmap: RoadmapService, health: HealthServicer) -> dict[str, Any]:
    """``/<service>/<method>`` -> connectrpc endpoint, for every method of the
    RoadmapService and for Health/Check."""
    found: dict[str, Any] = {}
    served: list[tuple[Any, object]] = [
        (pb.DESCRIPTOR.services_by_name["RoadmapService"], roadmap),
        (health_pb2.DESCRIPTOR.services_by_name["Health"], health),
    ]
    for service, servicer in served:
        for method in service.methods:
            if method.server_streaming and not method.client_streaming:
                continue  # Health/Watch: a server stream of changes, for gRPC clients only
            info = _method_info(method)
            implementation = getattr(servicer, method.name)
            path = f"/{service.full_name}/{method.name}"
            if info.stream_type is StreamType.BIDI_STREAM:
                found[path] = EndpointSync.bidi_stream(info, _stream(implementation))
            else:
                found[path] = EndpointSync.unary(method=info, function=_unary(implementation))
    return found


class _Connect(ConnectWSGIApplication):
    @property
    def path(self) -> str:
        return f"/{pb.DESCRIPTOR.services_by_name['RoadmapService'].full_name}"


class _Transport:
    """Names the transport in the servicer's log lines, and logs and counts what is refused
    before a servicer sees it (a body that is not the message, too large, a bad content
    type), as the gRPC path does for an undecodable request."""

    def on_start_sync(self, context: RequestContext[Any, Any]) -> Any:
        return structlog.contextvars.bind_contextvars(transport="http")

    def on_end_sync(
        self, tokens: Any, context: RequestContext[Any, Any], error: Exception | None
    ) -> None:
        structlog.contextvars.reset_contextvars(**tokens)
        if isinstance(error, ConnectError) and not isinstance(error, _Answered):
            code = _TO_GRPC.get(error.code, grpc.StatusCode.UNKNOWN).name
            REQUESTS.labels(method=context.method.name, code=code).inc()
            log.info(
                "request",
                method=context.method.name,
                code=code,
                transport="http",
                error=error.message,
            )


def _healthz(health: HealthServicer) -> WSGIApplication:
    def answer(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = health.Check(health_pb2.HealthCheckRequest(), _Call(None))
        name = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        status = "200 OK" if name == "SERVING" else "503 Service Unavailable"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [name.encode() + b"\n"]

    return answer


def application(
    roadmap: RoadmapService, health: HealthServicer, *, max_message_bytes: int
) -> WSGIApplication:
    """The WSGI application: Connect endpoints, /healthz, and the web app's files."""
    connect = _Connect(
        endpoints=endpoints(roadmap, health),
        interceptors=(_Transport(),),
        read_max_bytes=max_message_bytes,
        codecs=(_JsonCodec(), google_protobuf_binary_codec()),
    )
    healthz = _healthz(health)
    most = STREAM_BODY_MESSAGES * max_message_bytes

    def route(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            return healthz(environ, start_response)
        if environ.get("CONTENT_TYPE", "").startswith(_STREAMS) and not _spooled(environ, most):
            start_response("413 Content Too Large", [("Content-Type", "text/plain")])
            return [f"a stream's body is limited to {most:,} bytes: split it\n".encode()]
        return connect(environ, start_response)

    # Files first (index.html for /); anything else goes to `route`.
    static: WSGIApplication = WhiteNoise(route, root=WEB, index_file=True, max_age=60)
    return static


#: How many messages of --max-message-bytes one stream's body may hold (it is read whole).
STREAM_BODY_MESSAGES = 64
_STREAMS = ("application/connect+", "application/grpc-web")
_SPOOL_BYTES = 1 << 20


def _spooled(environ: WSGIEnvironment, most: int) -> bool:
    """Read a stream's whole body before the handler runs; False if it is over ``most``.

    Over HTTP/1.1 a stream is half-duplex, and cheroot discards whatever the application
    has not read of a body when the response starts: the items after the first would be
    lost. So the body is read first, into memory or, past 1 MiB, a temporary file."""
    body = environ["wsgi.input"]
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115  (the request owns it)
    size = 0
    while chunk := body.read(65536):
        size += len(chunk)
        if size > most:
            spool.close()
            return False
        spool.write(chunk)
    spool.seek(0)
    environ["wsgi.input"] = spool
    environ["CONTENT_LENGTH"] = str(size)
    return True


class HttpServer:
    """The HTTP/JSON listener: bound when made, served from a thread after ``start()``."""

    def __init__(
        self, config: Config, holder: RuleBaseHolder, gate: Gate, health: HealthServicer
    ) -> None:
        address = config.http_listen or ""
        host, _, port = address.rpartition(":")
        if address.startswith("unix:") or not port.isdigit():
            raise OSError(f"--http-listen {address}: HTTP/JSON listens on TCP HOST:PORT only")
        # The servicer the gRPC server has, with the same rule base, gate and limits.
        roadmap = RoadmapService(
            holder, gate, max_batch=config.max_batch, max_stream_items=config.max_stream_items
        )
        app = application(roadmap, health, max_message_bytes=config.max_message_bytes)
        self.listen = address
        self._server = wsgi.Server(
            (host.strip("[]") or "0.0.0.0", int(port)),  # noqa: S104  (as the flag says)
            app,
            numthreads=config.threads,
            server_name="roadmap",
        )
        try:
            self._server.prepare()  # binds and listens
        except OSError as exc:
            raise OSError(
                f"cannot listen on --http-listen {address}: {exc.strerror or exc}"
            ) from None
        self.port = int(self._server.bind_addr[1])
        self._thread = threading.Thread(target=self._server.serve, name="http", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("http_listening", listen=self.listen, port=self.port)

    def stop(self) -> None:
        """Close the listener and the connections (after the gate has drained the calls)."""
        started = time.monotonic()
        self._server.stop()
        self._thread.join(timeout=5)
        log.info("http_stopped", seconds=round(time.monotonic() - started, 3))


def serve_http(
    config: Config, holder: RuleBaseHolder, gate: Gate, health: HealthServicer
) -> HttpServer:
    """Bind ``--http-listen`` (OSError if it cannot) and serve it from a thread."""
    server = HttpServer(config, holder, gate, health)
    server.start()
    return server
