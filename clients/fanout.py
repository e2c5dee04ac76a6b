"""Many roadmaps over several concurrent streams, answered in input order.

A batch is cut into chunks; ``streams`` threads each send one chunk at a time as a
``StreamRoadmaps`` call on one channel. With a target that resolves to several servers
(``dns:///`` on a headless service, ``ipv4:a:p,b:p``), the channel's ``round_robin``
policy puts each new call on the next server, so every replica works. A stream that
fails mid-way (its server died or is stopping) costs nothing: the items it had not
answered go back into the queue and another stream, on a live server, answers them.
The answers come out in input order whatever order the streams finish in.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

import grpc

from clients.client import ServiceError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from roadmap.v1 import roadmap_pb2 as pb

    from clients.client import RoadmapClient

DEFAULT_STREAMS = 4
CHUNK = 100  # items per stream call: small enough to rebalance, large enough to amortise
MAX_ATTEMPTS = 6  # per chunk: a failed stream is sent again on another server
#: A chunk's stream gets this long (a server that vanished without closing its
#: connections would otherwise hold it for ever); past it, it is sent again elsewhere.
STREAM_SECONDS = 30.0
STREAM_SECONDS_PER_ITEM = 0.5
#: A stream ending with one of these is the server's failure, not the items' (each item's
#: own failure is an answer): send its unanswered items again.
RETRYABLE = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED}
)


class _Fanout:
    def __init__(
        self, client: RoadmapClient, assessments: Sequence[pb.Assessment], streams: int
    ) -> None:
        self.client = client
        self.assessments = assessments
        self.pending: deque[tuple[list[int], int]] = deque(
            (list(range(start, min(start + CHUNK, len(assessments)))), 1)
            for start in range(0, len(assessments), CHUNK)
        )
        self.answers: dict[int, pb.StreamRoadmapsResponse] = {}
        self.failure: ServiceError | None = None
        self.finished = False  # the caller has every answer, or stopped reading
        self.in_flight = 0
        self.changed = threading.Condition()
        self.threads = [
            threading.Thread(target=self._work, name=f"stream-{n}", daemon=True)
            for n in range(max(1, streams))
        ]

    def _take(self) -> tuple[list[int], int] | None:
        """The next chunk to send; None once every chunk is answered (or one failed)."""
        with self.changed:
            while not self.pending and self.in_flight and not self._over():
                self.changed.wait()
            if not self.pending or self._over():
                return None
            self.in_flight += 1
            return self.pending.popleft()

    def _over(self) -> bool:
        return self.finished or self.failure is not None

    def _work(self) -> None:
        while (chunk := self._take()) is not None:
            indices, attempt = chunk
            unanswered = set(indices)
            try:
                limit = STREAM_SECONDS + STREAM_SECONDS_PER_ITEM * len(indices)
                items = (self.assessments[i] for i in indices)
                for response in self.client.stream_roadmaps(items, timeout=limit):
                    index = indices[response.index]
                    response.index = index
                    unanswered.discard(index)
                    with self.changed:
                        self.answers[index] = response
                        self.changed.notify_all()
            except ServiceError as exc:
                self._failed([i for i in indices if i in unanswered], attempt, exc)
            finally:
                with self.changed:
                    self.in_flight -= 1
                    self.changed.notify_all()

    def _failed(self, left: list[int], attempt: int, error: ServiceError) -> None:
        if not left:  # every item was answered; only the stream's end was lost
            return
        if error.code not in RETRYABLE or attempt >= MAX_ATTEMPTS:
            with self.changed:
                self.failure = self.failure or error
                self.changed.notify_all()
            return
        time.sleep(min(2.0, 0.1 * 2**attempt))  # let the channel see the server is gone
        with self.changed:
            self.pending.append((left, attempt + 1))
            self.changed.notify_all()

    def __iter__(self) -> Iterator[pb.StreamRoadmapsResponse]:
        for thread in self.threads:
            thread.start()
        try:
            for index in range(len(self.assessments)):
                with self.changed:
                    while index not in self.answers and self.failure is None:
                        self.changed.wait()
                    if index not in self.answers:
                        assert self.failure is not None
                        raise self.failure
                    answer = self.answers.pop(index)
                yield answer
        finally:  # no stream starts once the caller is done (it may close the channel)
            with self.changed:
                self.finished = True
                self.changed.notify_all()
            for thread in self.threads:
                thread.join(timeout=5)


def stream_in_order(
    client: RoadmapClient, assessments: Sequence[pb.Assessment], *, streams: int = DEFAULT_STREAMS
) -> Iterator[pb.StreamRoadmapsResponse]:
    """Every assessment's StreamRoadmaps answer, ``index`` set to its place in
    ``assessments``, yielded in that order; over ``streams`` concurrent streams, a failed
    stream's unanswered items sent again. ServiceError if a chunk cannot be answered."""
    return iter(_Fanout(client, assessments, streams))
