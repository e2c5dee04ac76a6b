"""Properties of the prerequisite cycle finder."""

from __future__ import annotations

import itertools

from hypothesis import assume, given
from hypothesis import strategies as st

from engine.graph import find_cycles

# A DAG: node i may only require nodes with a smaller index.
dags = st.integers(min_value=1, max_value=40).flatmap(
    lambda n: st.lists(
        st.lists(st.integers(min_value=0, max_value=n - 1), max_size=4), min_size=n, max_size=n
    ).map(lambda reqs: {f"p{i}": [f"p{j}" for j in r if j < i] for i, r in enumerate(reqs)})
)


@given(dags)
def test_a_dag_has_no_cycles(graph: dict[str, list[str]]) -> None:
    assert find_cycles(graph) == []


@given(dags, st.data())
def test_a_back_edge_makes_a_cycle_made_of_real_edges(
    graph: dict[str, list[str]], data: st.DataObject
) -> None:
    edges = [(a, b) for a, reqs in graph.items() for b in reqs]
    assume(edges)  # a graph without edges has no edge to turn back
    later, earlier = data.draw(st.sampled_from(edges))
    graph[earlier] = [*graph[earlier], later]  # now `later` and `earlier` need each other
    cycles = find_cycles(graph)
    assert cycles
    for cycle in cycles:
        assert cycle[0] == cycle[-1]
        for a, b in itertools.pairwise(cycle):
            assert b in graph[a]


def test_long_chains_do_not_hit_the_recursion_limit() -> None:
    chain = {f"p{i}": [f"p{i - 1}"] if i else [] for i in range(20_000)}
    assert find_cycles(chain) == []
    chain["p0"] = ["p19999"]
    (cycle,) = find_cycles(chain)
    assert len(cycle) == 20_001
