"""A GraphQL client for tests, speaking HTTP to the app as a phone would."""

from __future__ import annotations

from typing import Any

import httpx

from scripts.seed_demo import DEMO_PASSWORD


class GQL:
    def __init__(self, client: httpx.AsyncClient, path: str = "/graphql") -> None:
        self.client = client
        self.path = path

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        lang: str | None = None,
    ) -> dict[str, Any]:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if lang:
            headers["Accept-Language"] = lang
        response = await self.client.post(
            self.path, json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        body = await self(query, variables, **kw)
        assert "errors" not in body, body
        return body["data"]

    async def mutate(self, name: str, query: str, input: dict[str, Any], **kw: Any) -> Any:
        """Run a one-field mutation and return its payload."""
        body = await self(query, {"input": input}, **kw)
        assert "errors" not in body, body
        return body["data"][name]

    async def login(self, phone: str, password: str = DEMO_PASSWORD) -> str:
        payload = await self.mutate("login", LOGIN, {"phone": phone, "password": password})
        assert payload["errors"] == [], payload
        return payload["accessToken"]


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) {
    accessToken refreshToken expiresIn
    user { id name phone }
    errors { code field message }
  }
}"""

REFRESH = """
mutation Refresh($input: RefreshTokenInput!) {
  refreshToken(input: $input) {
    accessToken refreshToken
    user { id }
    errors { code field message }
  }
}"""

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) {
    accessToken refreshToken
    user { id name phone residencyVerified village { id name } }
    errors { code field message }
  }
}"""

CREATE_REGION = """
mutation CreateRegion($input: CreateRegionInput!) {
  createRegion(input: $input) {
    region { id name kind code depth parent { id } }
    errors { code field message }
  }
}"""

GRANT_ROLE = """
mutation GrantRole($input: GrantRoleInput!) {
  grantRole(input: $input) {
    roleGrant { id role region { id name } user { id name } }
    errors { code field message }
  }
}"""

VERIFY_RESIDENCY = """
mutation Verify($input: VerifyResidencyInput!) {
  verifyResidency(input: $input) {
    user { id residencyVerified }
    errors { code field message }
  }
}"""

ME = "{ me { id name phone residencyVerified roles { role region { name } } } }"


async def disable_account(**filters: Any) -> None:
    """Disable accounts as the operators do (the operation drops their cached viewers)."""
    from models.accounts import User
    from models.accounts.operations import set_account_active
    from models.policy import Viewer

    for user in await User.filter(**filters):
        await set_account_active(Viewer.for_system("test"), user.id, False)
