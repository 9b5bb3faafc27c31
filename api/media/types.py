"""The Media node. A restricted (unredacted) file is shown only to staff, with signed URLs."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

import graphene

from api.compiled import by_class, root_only
from api.context import Context, Info
from api.loaders import RegionLoader
from api.regions.types import Region
from api.relay import Node, register_node
from api.rows import columns_read, is_row_of
from media.service import original_name
from media.urls import media_url
from models.media import Media as MediaModel
from models.media import MediaKind as MediaKindEnum
from models.media import MediaPurpose as MediaPurposeEnum
from models.policy import may_see_media, media_is_public

MediaKind = graphene.Enum.from_enum(MediaKindEnum)
MediaPurpose = graphene.Enum.from_enum(MediaPurposeEnum, description="用途")


async def may_see(ctx: Context, media: MediaModel) -> bool:
    return may_see_media(ctx.viewer, media, await ctx.region_path(media.region_id))


# The columns each field reads: a feed page's attachments read only those its query shows
# (`media_columns`). The URLs: the file, whether it is public, and who else may see it.
URL_COLUMNS = (
    "id",
    "sha256",
    "kind",
    "variant_bytes",
    "attached_at",
    "restricted",
    "region_id",
    "uploaded_by_id",
)
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "__typename": (),
    "id": ("id",),
    "kind": ("kind",),
    "mimeType": ("mime_type",),
    "purpose": ("purpose",),
    "width": ("width",),
    "height": ("height",),
    "bytes": ("bytes",),
    "sha256": ("sha256",),
    "url": URL_COLUMNS,
    "thumbnailUrl": URL_COLUMNS,
    "mediumUrl": URL_COLUMNS,
    "placeholder": ("placeholder",),
    "redacted": ("redacted_from_id",),
    "restricted": ("restricted",),
    "region": ("region_id",),
    "createdAt": ("created_at",),
}


def media_columns(wanted: AbstractSet[str]) -> frozenset[str] | None:
    """The columns the fields `wanted` read; None (every column) for a field not listed."""
    return columns_read(FIELD_COLUMNS, wanted, ("id",))


@register_node
class Media(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = "照片或 PDF。图片已按拍摄方向摆正并去除全部元数据（含 GPS）。"

    kind = graphene.Field(MediaKind, required=True)
    mime_type = graphene.String(required=True, description="上传文件的真实类型（按内容判断）")
    purpose = graphene.Field(MediaPurpose, required=True)
    width = graphene.Int()
    height = graphene.Int()
    bytes = graphene.Int(required=True, description="上传文件大小")
    sha256 = graphene.String(required=True, description="干净原图的 sha256")
    url = graphene.String(description="干净原图（JPEG）或 PDF；无权查看受限原图时为空")
    thumbnail_url = graphene.String(description="缩略图 WebP，长边 320")
    medium_url = graphene.String(description="中图 WebP，长边 1280")
    placeholder = graphene.String(description="主色 #rrggbb，图片加载前显示")
    redacted = graphene.Boolean(required=True, description="是否为遮挡后的副本")
    restricted = graphene.Boolean(
        required=True, description="已有遮挡副本：原图仅限本村工作人员和上级干部查看"
    )
    region = graphene.Field(Region, required=True)
    created_at = graphene.DateTime(required=True)

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return is_row_of(root, MediaModel)

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> MediaModel | None:
        media = await MediaModel.get_or_none(id=int(pk)) if pk.isdigit() else None
        if media is not None and not await may_see(info.context, media):
            return None  # like a missing id: ids are sequential, existence says too much
        return media

    @staticmethod
    def _url(root: MediaModel, info: Info, variant: str) -> Any:
        """Public files: a plain URL, synchronously (feeds show many). Restricted files:
        a signed URL for those who may see them, nothing for others. `info` is read only
        in the awaitable (the resolvers below are `root_only`)."""
        if variant not in root.variant_bytes:
            return None
        if media_is_public(root):
            return media_url(root.sha256, variant)
        return Media._signed_url(root, info, variant)

    @staticmethod
    async def _signed_url(root: MediaModel, info: Info, variant: str) -> str | None:
        if not await may_see(info.context, root):
            return None
        return media_url(root.sha256, variant, info.context.settings.secret_key)

    @staticmethod
    @root_only
    def resolve_url(root: MediaModel, info: Info) -> Any:
        return Media._url(root, info, original_name(root))

    @staticmethod
    @root_only
    def resolve_thumbnail_url(root: MediaModel, info: Info) -> Any:
        return Media._url(root, info, "thumb.webp")

    @staticmethod
    @root_only
    def resolve_medium_url(root: MediaModel, info: Info) -> Any:
        return Media._url(root, info, "medium.webp")

    @staticmethod
    @root_only
    def resolve_redacted(root: MediaModel, info: Info) -> bool:
        return root.redacted_from_id is not None

    @staticmethod
    async def resolve_region(root: MediaModel, info: Info) -> Any:
        return await info.context.loaders[RegionLoader].load(root.region_id)
