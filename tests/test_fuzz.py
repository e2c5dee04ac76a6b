"""Fuzzing every method of a real server: generated messages and raw bytes.

Whatever arrives, the answer is a status a caller can act on: never UNKNOWN or
INTERNAL, never a crash, never a hang (every call has a deadline far above the time
any answer takes; running into it would be a hang). `make test` runs a few thousand
cases; `make fuzz` (ROADMAP_FUZZ_EXAMPLES) many more.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from roadmap.v1 import roadmap_pb2 as pb

from engine.rulebase import BUNDLED_RULES, load_rulebase
from tests.server_process import ServerProcess

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from google.protobuf.descriptor import Descriptor, MethodDescriptor
    from google.protobuf.message import Message

# The server under fuzz is another process: tracing coverage of the generator here would
# only slow the run (see `make test`).
pytestmark = pytest.mark.no_cover

EXAMPLES = int(os.environ.get("ROADMAP_FUZZ_EXAMPLES", "300"))
NEVER = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED}
METHODS = [
    m
    for name in ("RoadmapService", "AdminService")
    for m in pb.DESCRIPTOR.services_by_name[name].methods
]
RULEBASE = load_rulebase(BUNDLED_RULES)
# Strings worth trying: real ids (so generated messages get past the first checks), and
# the usual troublemakers.
WORDS = st.sampled_from(
    [
        *RULEBASE.practices,
        *RULEBASE.models,
        "",
        " ",
        "x" * 300,
        "é🚀\u0000",
        "../../etc/passwd",
        "1e-07",
        "{}",
    ]
)
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, 0.5, -1.0, 1e-07, 5e-324, 1e20, math.nan]),
)
SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_DOUBLE: FLOATS,
    FieldDescriptor.TYPE_FLOAT: st.floats(width=32),
    FieldDescriptor.TYPE_INT32: st.integers(-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: st.integers(-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: st.integers(0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: st.integers(0, 2**64 - 1),
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_STRING: st.one_of(WORDS, st.text(max_size=40)),
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=40),
}


def _value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return messages(field.message_type, depth + 1)
    if field.type == FieldDescriptor.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-5, 50))  # unknown values too
    return SCALARS[field.type]


@st.composite
def _message(draw: st.DrawFn, descriptor: Descriptor, depth: int) -> Message:
    message = message_factory.GetMessageClass(descriptor)()
    for field in descriptor.fields:
        if depth > 3 or not draw(st.booleans()):  # nesting depth
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            continue
        repeated = field.is_repeated
        if repeated:
            values = draw(st.lists(_value(field, depth), max_size=6))
            container = getattr(message, field.name)
            for value in values:
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    container.add().CopyFrom(value)
                else:
                    container.append(value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(message, field.name).CopyFrom(draw(_value(field, depth)))
        else:
            setattr(message, field.name, draw(_value(field, depth)))
    return message


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    return _message(descriptor, depth)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("fuzz"), "--enable-admin", "--max-message-bytes", "262144"
    )
    process.wait_serving()
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.target) as channel:
        yield channel


SEEN: Counter[str] = Counter()


def _call_raw(channel: grpc.Channel, method: MethodDescriptor, payloads: list[bytes]) -> None:
    path = f"/{method.containing_service.full_name}/{method.name}"
    try:
        if method.client_streaming:
            stream = channel.stream_stream(path)
            for _ in stream(iter(payloads), timeout=20):
                pass
        else:
            channel.unary_unary(path)(payloads[0], timeout=20)
        SEEN["OK"] += 1
    except grpc.RpcError as error:
        code = error.code()
        SEEN[code.name] += 1
        problem = f"{path}: {code.name}: {error.details()}" if code in NEVER else None
    else:
        problem = None
    assert problem is None, problem


def fuzz(run: Callable[[], None], server: ServerProcess, method: MethodDescriptor) -> None:
    """Run one hypothesis test (each case asserts on its answer); the server survived it."""
    SEEN.clear()
    run()
    print(f"{method.name}: {dict(SEEN)}")
    assert sum(SEEN.values()) > 0  # cases were sent
    assert server.process.poll() is None
    assert server.health() == "SERVING"


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_generated_messages_get_an_actionable_status(
    server: ServerProcess, channel: grpc.Channel, method: MethodDescriptor
) -> None:
    requests = st.lists(messages(method.input_type), min_size=1, max_size=4)

    @FUZZ
    @given(requests)
    def run(batch: list[Message]) -> None:
        payloads = [m.SerializeToString() for m in batch]
        _call_raw(channel, method, payloads if method.client_streaming else payloads[:1])

    fuzz(run, server, method)


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_raw_bytes_get_an_actionable_status(
    server: ServerProcess, channel: grpc.Channel, method: MethodDescriptor
) -> None:
    @FUZZ
    @given(st.lists(st.binary(max_size=512), min_size=1, max_size=3))
    def run(payloads: list[bytes]) -> None:
        _call_raw(channel, method, payloads)

    fuzz(run, server, method)
