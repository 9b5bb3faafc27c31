"""The per-request GraphQL context: who asks, in which language, with which loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from graphql import FieldNode, FragmentDefinitionNode
from starlette.requests import HTTPConnection

from api.loaders import Loaders, RegionLoader
from api.services import Services
from api.settings import Settings
from models.accounts import Session
from models.accounts.auth import AuthConfig, decode_access_token
from models.accounts.viewer_cache import ViewerCache
from models.errors import AppError, AuthReason, Unauthenticated
from models.messages import pick_language
from models.policy import SYSTEM, Viewer, viewer_for_user


class Info(Protocol):
    """What a resolver receives (graphql-core's GraphQLResolveInfo), with our Context typed."""

    @property
    def context(self) -> Context: ...

    @property
    def field_nodes(self) -> list[FieldNode]: ...

    @property
    def fragments(self) -> dict[str, FragmentDefinitionNode]: ...


@dataclass
class Context:
    request: HTTPConnection
    services: Services
    viewer: Viewer
    lang: str
    request_id: str
    loaders: Loaders = field(default_factory=Loaders)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def ip(self) -> str | None:
        return self.request.client.host if self.request.client else None

    @property
    def user_agent(self) -> str | None:
        return self.request.headers.get("user-agent")

    async def region_path(self, region_id: int | None) -> str:
        """The path of a region from this request's cache (SYSTEM for none)."""
        if region_id is None:
            return SYSTEM
        region = await self.loaders[RegionLoader].load(region_id)
        return region.path if region else SYSTEM


async def load_viewer(
    auth: AuthConfig, authorization: str | None, cache: ViewerCache | None = None
) -> Viewer:
    """The signed-in user and their grants, or an anonymous viewer that remembers why.

    The token (signature, expiry) is checked on every request; with a `cache`, the session,
    user and grants come from it while no change was signalled (models.accounts.viewer_cache).
    """
    if not authorization:
        return Viewer()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return Viewer(auth_error=Unauthenticated(AuthReason.TOKEN_INVALID))
    try:
        claims = decode_access_token(auth, token.strip())
    except AppError as exc:
        return Viewer(auth_error=exc)
    key = (claims.session_id, claims.user_id)
    # read before the database: a change committed meanwhile voids what is stored below
    stamp = await cache.stamp(claims.user_id) if cache is not None else None
    if cache is not None and stamp is not None:
        found = cache.get(key, stamp)
        if found is not None:
            user, grants = found
            return Viewer(user=user, grants=grants, session_id=claims.session_id)
    session = await Session.get_or_none(
        id=claims.session_id, user_id=claims.user_id, revoked_at=None
    ).select_related("user")
    if session is None:
        return Viewer(auth_error=Unauthenticated(AuthReason.TOKEN_REVOKED))
    if not session.user.is_active:
        return Viewer(auth_error=Unauthenticated(AuthReason.ACCOUNT_DISABLED))
    viewer = await viewer_for_session(session)
    if cache is not None and stamp is not None:
        cache.put(key, session.user, viewer.grants, stamp, claims.expires_at)
    return viewer


async def viewer_for_session(session: Session) -> Viewer:
    viewer = await viewer_for_user(session.user)
    viewer.session_id = str(session.id)
    return viewer


async def build_context(request: HTTPConnection, services: Services, request_id: str) -> Context:
    viewer = await load_viewer(
        services.settings.auth, request.headers.get("authorization"), services.viewers
    )
    viewer.ip = request.client.host if request.client else None
    viewer.request_id = request_id
    return Context(
        request=request,
        services=services,
        viewer=viewer,
        lang=pick_language(request.headers.get("accept-language")),
        request_id=request_id,
        loaders=Loaders(services.region_cache),
    )
