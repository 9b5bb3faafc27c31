"""The served GraphQL schema: every domain's queries and mutations merged."""

from __future__ import annotations

import graphene

from api.accounts.schema import AccountMutations, AccountQueries
from api.accounts.types import RoleGrant, User
from api.audit_log.schema import AuditQueries
from api.comments.schema import CommentMutations, CommentQueries
from api.comments.types import Comment
from api.deliveries.schema import DeliveryMutations, DeliveryQueries
from api.deliveries.types import Delivery
from api.disclosures.notices import NoticeMutations, NoticeQueries
from api.disclosures.schema import DisclosureMutations, DisclosureQueries
from api.disclosures.types import CatalogueItem, Disclosure
from api.finance.schema import FinanceMutations, FinanceQueries
from api.flags.schema import CalendarQueries, FlagMutations, FlagQueries, StatsQueries
from api.flags.types import Flag
from api.home_screen.schema import HomeQueries
from api.jobs.schema import JobMutations, JobQueries
from api.jobs.types import Job
from api.media.schema import MediaMutations
from api.media.types import Media
from api.notifications.preferences import PreferenceMutations, PreferenceQueries
from api.notifications.schema import NotificationMutations, NotificationQueries
from api.notifications.subscriptions import NotificationSubscriptions
from api.notifications.types import Notification
from api.prices.schema import PriceMutations, PriceQueries
from api.prices.types import Market
from api.regions.schema import RegionMutations, RegionQueries
from api.regions.types import Region
from api.relay import node_field
from api.subsidies.schema import SubsidyMutations, SubsidyQueries
from api.worklist.schema import WorklistMutations, WorklistQueries


class Query(
    AccountQueries,
    RegionQueries,
    DisclosureQueries,
    NoticeQueries,
    CommentQueries,
    FlagQueries,
    StatsQueries,
    AuditQueries,
    CalendarQueries,
    FinanceQueries,
    WorklistQueries,
    JobQueries,
    NotificationQueries,
    PreferenceQueries,
    DeliveryQueries,
    SubsidyQueries,
    PriceQueries,
    HomeQueries,
    graphene.ObjectType,
):
    node = node_field()


class Mutation(
    AccountMutations,
    RegionMutations,
    MediaMutations,
    DisclosureMutations,
    NoticeMutations,
    CommentMutations,
    FlagMutations,
    FinanceMutations,
    WorklistMutations,
    JobMutations,
    NotificationMutations,
    PreferenceMutations,
    DeliveryMutations,
    SubsidyMutations,
    PriceMutations,
    graphene.ObjectType,
):
    pass


class Subscription(NotificationSubscriptions, graphene.ObjectType):
    pass


schema = graphene.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[
        Region,
        User,
        RoleGrant,
        Media,
        Disclosure,
        CatalogueItem,
        Comment,
        Flag,
        Job,
        Notification,
        Delivery,
        Market,
    ],
)
