"""Idempotency-Key: a mutation retried on a flaky network runs once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.idempotency import purge_expired, request_hash
from api.relay import to_global_id
from models.idempotency import IdempotentRequest
from models.regions import Region
from tests.client import CREATE_REGION

ADMIN = "13800000001"


async def post(client, token, data, key, name="新建镇"):
    variables = {
        "input": {
            "parentId": to_global_id("Region", data.county.id),
            "kind": "TOWNSHIP",
            "name": name,
        }
    }
    return await client.post(
        "/graphql",
        json={"query": CREATE_REGION, "variables": variables},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )


async def test_a_retried_mutation_is_answered_from_the_first_run(client, gql, demo):
    token = await gql.login(ADMIN)
    first = await post(client, token, demo, "retry-key-0001")
    second = await post(client, token, demo, "retry-key-0001")
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert first.json() == second.json()
    assert first.json()["data"]["createRegion"]["errors"] == []
    assert await Region.filter(name="新建镇").count() == 1


async def test_a_key_reused_for_another_request_is_refused(client, gql, demo):
    token = await gql.login(ADMIN)
    await post(client, token, demo, "retry-key-0002")
    other = await post(client, token, demo, "retry-key-0002", name="另一个镇")
    assert other.status_code == 422
    assert other.json()["errors"][0]["extensions"]["reason"] == "IDEMPOTENCY_KEY_REUSED"
    assert not await Region.exists(name="另一个镇")


async def test_a_malformed_key_is_refused(client, gql, demo):
    token = await gql.login(ADMIN)
    response = await post(client, token, demo, "short")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["reason"] == "IDEMPOTENCY_KEY_INVALID"
    assert not await Region.exists(name="新建镇")


async def test_keys_belong_to_their_user(client, gql, demo):
    first = await post(client, await gql.login(ADMIN), demo, "shared-key-0003")
    assert first.json()["data"]["createRegion"]["errors"] == []
    other_user = await gql.login("13800000002")
    second = await post(client, other_user, demo, "shared-key-0003")
    assert "idempotent-replayed" not in second.headers
    assert second.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_request_still_running_is_409_and_a_dead_one_frees_its_key(client, gql, demo):
    token = await gql.login(ADMIN)
    admin_id = demo.users["ADMIN"].id
    variables = {
        "input": {
            "parentId": to_global_id("Region", demo.county.id),
            "kind": "TOWNSHIP",
            "name": "新建镇",
        }
    }
    digest = request_hash(CREATE_REGION, variables, None)
    row = await IdempotentRequest.create(
        scope=f"u:{admin_id}", key="inflight-0004", request_hash=digest
    )
    busy = await post(client, token, demo, "inflight-0004")
    assert busy.status_code == 409
    assert not await Region.exists(name="新建镇")
    await IdempotentRequest.filter(id=row.id).update(
        created_at=datetime.now(UTC) - timedelta(minutes=5)
    )
    taken_over = await post(client, token, demo, "inflight-0004")
    assert taken_over.status_code == 200
    assert taken_over.json()["data"]["createRegion"]["errors"] == []
    assert await Region.filter(name="新建镇").count() == 1


async def test_old_keys_are_purged(app):
    await IdempotentRequest.create(scope="u:1", key="old-key-0001", request_hash="x", response="{}")
    await IdempotentRequest.create(scope="u:1", key="new-key-0001", request_hash="x", response="{}")
    await IdempotentRequest.filter(key="old-key-0001").update(
        created_at=datetime.now(UTC) - timedelta(days=2)
    )
    assert await purge_expired() == 1
    assert [r.key for r in await IdempotentRequest.all()] == ["new-key-0001"]
