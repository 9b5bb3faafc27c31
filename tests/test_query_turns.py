"""At most QUERY_CONCURRENCY queries execute at once in a process, the others waiting their
turn in arrival order (under saturation uvloop otherwise starts newly read requests ahead
of those already waiting, and some answers took seconds); mutations never wait behind
queries; 0 turns the bound off. Over real HTTP, through uvicorn."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import api.endpoint
from tests.test_disclosures import CLERK
from tests.test_live import serve

LOGIN = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }"


def held_executions(monkeypatch: Any) -> tuple[list[str], dict[str, int], asyncio.Event]:
    """Every execution records its first field's alias when it starts, then waits for the
    gate (mutations pass straight through)."""
    started: list[str] = []
    counts = {"running": 0, "most": 0}
    gate = asyncio.Event()
    original = api.endpoint.execute

    def execute(schema: Any, document: Any, **kwargs: Any) -> Any:
        operation = document.definitions[0]
        if operation.operation.value != "query":
            return original(schema, document, **kwargs)
        started.append(operation.selection_set.selections[0].alias.value)
        result = original(schema, document, **kwargs)

        async def held() -> Any:
            counts["running"] += 1
            counts["most"] = max(counts["most"], counts["running"])
            try:
                await gate.wait()
                return await result if inspect.isawaitable(result) else result
            finally:
                counts["running"] -= 1

        return held()

    monkeypatch.setattr(api.endpoint, "execute", execute)
    return started, counts, gate


async def send_in_order(gql: Any, names: list[str]) -> list[asyncio.Task]:
    tasks = []
    for name in names:  # each sent once the one before is in (its arrival order is known)
        tasks.append(
            asyncio.create_task(
                gql.client.post("/graphql", json={"query": f"{{ {name}: __typename }}"})
            )
        )
        await asyncio.sleep(0.05)
    return tasks


async def test_queries_take_turns_in_arrival_order_and_mutations_do_not_wait(settings, monkeypatch):
    bounded = settings.with_overrides(query_concurrency=2, response_cache=False)
    started, counts, gate = held_executions(monkeypatch)
    async with serve(bounded) as s:
        names = ["q1", "q2", "q3", "q4", "q5"]
        tasks = await send_in_order(s.gql, names)
        assert started == ["q1", "q2"] and counts["running"] == 2  # the others wait
        # a mutation (a sign-in) is not held up by the queries holding every turn
        signed = await asyncio.wait_for(
            s.gql.client.post(
                "/graphql",
                json={"query": LOGIN, "variables": {"i": {"phone": CLERK, "password": "x" * 9}}},
            ),
            5,
        )
        assert signed.status_code == 200 and "data" in signed.json()
        gate.set()
        answers = await asyncio.wait_for(asyncio.gather(*tasks), 10)
        for name, answer in zip(names, answers, strict=True):
            assert answer.json() == {"data": {name: "Query"}}
        assert started == names  # in the order they arrived
        assert counts["most"] == 2


async def test_zero_turns_the_bound_off(settings, monkeypatch):
    unbounded = settings.with_overrides(query_concurrency=0, response_cache=False)
    started, counts, gate = held_executions(monkeypatch)
    async with serve(unbounded) as s:
        tasks = await send_in_order(s.gql, ["a1", "a2", "a3", "a4"])
        assert counts["running"] == 4
        gate.set()
        answers = await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert [a.json()["data"] for a in answers] == [{f"a{i}": "Query"} for i in range(1, 5)]
