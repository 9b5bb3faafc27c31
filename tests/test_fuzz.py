"""A bounded schemathesis run (GraphQL mode) in the suite: one positive and one negative
document per operation, fixed seed, anonymous and signed in; no INTERNAL_SERVER_ERROR.
`python -m scripts.fuzz_graphql` runs the big one."""

from __future__ import annotations

from functools import cache

from scripts.fuzz_graphql import SIGNED_IN, Case, ErrorLog, generate, send_all


@cache
def documents() -> tuple[Case, ...]:
    return tuple(generate(examples=1, random_seed=11))


async def test_fuzzed_documents_get_no_internal_error(client, gql, demo):
    cases = list(documents())
    assert len(cases) > 100
    tokens = [await gql.login(phone) for phone in SIGNED_IN[:2]]
    tally = await send_all(client, cases, tokens, ErrorLog())
    assert tally.requests == 2 * len(cases)
    assert tally.internal == 0, tally.examples[:3]
