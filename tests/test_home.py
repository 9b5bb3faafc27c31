"""The home screen in one request (`home(villageId)`), over HTTP on the demo's year of
village life: what the public sees, what a villager sees, what another village's villager
sees, how many statements it takes and how many bytes it weighs gzipped.

Seeding takes seconds, so one test per backend seeds once and walks every case."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from api.relay import to_global_id
from scripts.seed_demo import seed_demo

FARMER, NEIGHBOUR = "13800000006", "13800000010"  # 东溪村; 柳塘村

PUBLIC = """
fragment Item on Disclosure { id title category publishedAt mustRead urgency thumbnailUrl
  commentCount }
query Home($v: ID!) { home(villageId: $v) {
  serverTime village { id name }
  latest { ...Item }
  mustReadNotices { ...Item }
  prices { commodity { code name unit } market { name } date priceFen changePermille }
  compliance { year due onTime onTimePermille rank ranked grade } } }"""

PERSONAL = """query Mine($v: ID!) { home(villageId: $v) {
  mustReadNotices { id title } unreadNotificationCount } }"""

ONE_REQUEST = """query Home($v: ID!) { home(villageId: $v) {
  serverTime latest { id title category publishedAt mustRead urgency thumbnailUrl commentCount }
  mustReadNotices { id title publishedAt urgency } unreadNotificationCount
  prices { commodity { name unit } market { name } date priceFen changePermille }
  compliance { onTimePermille rank ranked grade } } }"""


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    log = logging.getLogger("tortoise.db_client")
    handler, level = Count(), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


async def test_the_home_screen_in_one_request(app, settings, gql, client):
    demo = await seed_demo(settings, content=True)
    assert demo is not None
    villages = {v.name: v for v in demo.villages}
    dongxi = to_global_id("Region", villages["东溪村"].id)
    liutang = to_global_id("Region", villages["柳塘村"].id)

    # anonymous: the public part, the same for everyone
    public = (await gql.data(PUBLIC, {"v": dongxi}))["home"]
    assert public["village"]["name"] == "东溪村" and public["serverTime"]
    latest = public["latest"]
    assert len(latest) == 20 and len({i["title"] for i in latest}) == 20
    stamps = [i["publishedAt"] for i in latest]
    assert stamps == sorted(stamps, reverse=True)
    assert any(i["thumbnailUrl"] for i in latest), latest
    assert all(i["thumbnailUrl"] is None or "/media/" in i["thumbnailUrl"] for i in latest)
    assert any(i["commentCount"] > 0 for i in latest)
    notices = [n["title"] for n in public["mustReadNotices"]]
    assert "关于做好秋冬季森林防火工作的通知" in notices  # in force, whoever asks
    assert public["prices"] and len(public["prices"]) <= 12
    badge = public["compliance"]
    assert badge["due"] > 0 and badge["grade"] in {"A", "B", "C", "D"}
    assert 1 <= badge["rank"] <= badge["ranked"] and 0 <= badge["onTimePermille"] <= 1000
    anonymous = (await gql.data(PERSONAL, {"v": dongxi}))["home"]
    assert anonymous["unreadNotificationCount"] is None
    assert [n["title"] for n in anonymous["mustReadNotices"]] == notices

    # the villager: notices not yet acknowledged, and their own unread count
    farmer = await gql.login(FARMER)
    mine = (await gql.data(PERSONAL, {"v": dongxi}, token=farmer))["home"]
    assert [n["title"] for n in mine["mustReadNotices"]] == ["关于做好秋冬季森林防火工作的通知"]
    assert mine["unreadNotificationCount"] > 0
    ack = """mutation($input: AcknowledgeNoticeInput!) { acknowledgeNotice(input: $input) {
      errors { code } } }"""
    done = await gql.mutate(
        "acknowledgeNotice", ack, {"id": mine["mustReadNotices"][0]["id"]}, token=farmer
    )
    assert done["errors"] == []
    after = (await gql.data(PERSONAL, {"v": dongxi}, token=farmer))["home"]
    assert after["mustReadNotices"] == []
    # …while the public part is unchanged by anyone's acknowledgement
    assert (await gql.data(PUBLIC, {"v": dongxi}))["home"]["mustReadNotices"] == public[
        "mustReadNotices"
    ]

    # another village's villager opening 东溪村: nothing of the farmer's, only their own count
    neighbour = await gql.login(NEIGHBOUR)
    theirs = (await gql.data(PERSONAL, {"v": dongxi}, token=neighbour))["home"]
    assert "关于做好秋冬季森林防火工作的通知" in [n["title"] for n in theirs["mustReadNotices"]]
    own = await gql.data("{ unreadNotificationCount }", token=neighbour)
    assert theirs["unreadNotificationCount"] == own["unreadNotificationCount"]
    seen = await gql.data(PUBLIC, {"v": dongxi}, token=neighbour)
    assert seen["home"]["latest"] == public["latest"]

    # not a village
    wrong = await gql(PERSONAL, {"v": to_global_id("Region", demo.townships[0].id)})
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    # a fixed small number of statements, however much a village holds
    await gql.data(ONE_REQUEST, {"v": dongxi}, token=farmer)  # the badge's table is stored
    counts = {}
    for name, village in (("东溪村", dongxi), ("柳塘村", liutang)):
        with statements() as seen_sql:
            await gql.data(ONE_REQUEST, {"v": village}, token=farmer)
        counts[name] = len(seen_sql)
        with statements() as seen_sql:
            await gql.data(PUBLIC, {"v": village})
        counts[name + " anonymous"] = len(seen_sql)
    print("home statements:", counts)
    assert max(counts.values()) <= 12, counts

    # ≤ 8 KB gzipped, measured as a phone receives it
    response = await client.post(
        "/graphql",
        json={"query": ONE_REQUEST, "variables": {"v": dongxi}},
        headers={"Authorization": f"Bearer {farmer}", "Accept-Encoding": "gzip"},
    )
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
    body = response.content  # httpx decodes it; weigh what went over the wire
    size = response.num_bytes_downloaded
    data = json.loads(body)["data"]["home"]
    assert len(data["latest"]) == 20 and data["prices"]
    print(f"home: {len(body)} bytes of JSON, {size} bytes gzipped")
    assert 0 < size <= 8 * 1024, size
