"""What one hears about and how: the regions one follows, and the delivery mode per
notification category and channel. Every field reads and changes the viewer's own only."""

from __future__ import annotations

from typing import Any

import graphene
from graphene import relay

from api.context import Context, Info
from api.disclosures.types import Category
from api.inputs import enum_value
from api.loaders import RegionLoader
from api.mutations import BaseMutation
from api.regions.types import Region
from api.relay import connection_args, keyset_page
from models.disclosures import following
from notifications import preferences as prefs

NotificationCategory = graphene.Enum.from_enum(
    prefs.NotifyCategory,
    name="NotificationCategory",
    description="通知类别：我的问题反映、回复、新公开事项、工作事项（工作人员）、必读通知",
)
DeliveryMode = graphene.Enum.from_enum(
    prefs.Mode, name="DeliveryMode", description="立即、每日摘要（北京时间20:00）、关闭"
)


class Follow(graphene.ObjectType):
    region = graphene.Field(Region, required=True)
    followed_at = graphene.DateTime(required=True)

    @staticmethod
    async def resolve_region(root: Any, info: Info) -> Any:
        return await info.context.loaders[RegionLoader].load(root.region_id)

    @staticmethod
    def resolve_followed_at(root: Any, info: Info) -> Any:
        return root.created_at


class FollowConnection(relay.Connection):
    class Meta:
        node = Follow


class CategoryPreference(graphene.ObjectType):
    category = graphene.Field(NotificationCategory, required=True)
    kinds = graphene.List(
        graphene.NonNull(graphene.String), required=True, description="该类别包含的通知种类"
    )
    sms = graphene.Field(DeliveryMode, required=True, description="短信（须已验证手机号）")
    wechat = graphene.Field(DeliveryMode, required=True, description="微信订阅消息（须已绑定）")
    customized = graphene.Boolean(required=True, description="是否与默认设置不同")


class NotificationPreferences(graphene.ObjectType):
    categories = graphene.List(graphene.NonNull(CategoryPreference), required=True)
    muted_disclosure_categories = graphene.List(
        graphene.NonNull(Category), required=True, description="不再通知其新公开事项的类别"
    )
    digest_time = graphene.String(required=True, description="每日摘要的发送时间")


def shape(eff: prefs.Effective) -> dict[str, Any]:
    return {
        "categories": [
            {
                "category": category,
                "kinds": list(prefs.KINDS[category]),
                "sms": eff.modes[category][prefs.Channel.SMS],
                "wechat": eff.modes[category][prefs.Channel.WECHAT],
                "customized": category in eff.customized,
            }
            for category in prefs.NotifyCategory
        ],
        "muted_disclosure_categories": list(eff.muted),
        "digest_time": "20:00 Asia/Shanghai",
    }


class PreferenceQueries(graphene.ObjectType):
    notification_preferences = graphene.Field(
        NotificationPreferences,
        required=True,
        description="本人的通知设置：默认设置合并本人的修改（须登录）；站内和实时推送总是开启",
    )
    my_follows = graphene.Field(
        FollowConnection,
        required=True,
        **connection_args(),
        description="本人关注的地区（注册时自动关注本村），先关注的在前（须登录）",
    )

    @staticmethod
    async def resolve_notification_preferences(root: Any, info: Info) -> Any:
        return shape(await prefs.effective(info.context.viewer))

    @staticmethod
    async def resolve_my_follows(
        root: Any, info: Info, first: int | None = None, after: str | None = None
    ) -> Any:
        return await keyset_page(following.my_follows(info.context.viewer), first, after)


class CategoryPreferenceInput(graphene.InputObjectType):
    category = graphene.Field(NotificationCategory, required=True)
    sms = graphene.Field(DeliveryMode, description="不填则不变")
    wechat = graphene.Field(DeliveryMode, description="不填则不变")


class UpdateNotificationPreferencesInput(graphene.InputObjectType):
    categories = graphene.List(graphene.NonNull(CategoryPreferenceInput))
    muted_disclosure_categories = graphene.List(
        graphene.NonNull(Category), description="给出时整体替换；空列表取消全部屏蔽"
    )


class UpdateNotificationPreferences(BaseMutation):
    class Meta:
        name = "UpdateNotificationPreferencesPayload"
        description = "修改本人的通知设置（全部生效或全部不变）"

    class Arguments:
        input = UpdateNotificationPreferencesInput(required=True)

    preferences = graphene.Field(NotificationPreferences)
    login_required = True

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        choices = None
        if data.get("categories") is not None:
            choices = [
                prefs.CategoryChoice(
                    enum_value(c.category),
                    enum_value(c.get("sms")),
                    enum_value(c.get("wechat")),
                )
                for c in data.categories
            ]
        muted = data.get("muted_disclosure_categories")
        if muted is not None:
            muted = [enum_value(m) for m in muted]
        eff = await prefs.update_preferences(ctx.viewer, choices, muted)
        return {"preferences": shape(eff)}


class PreferenceMutations(graphene.ObjectType):
    update_notification_preferences = UpdateNotificationPreferences.Field()
