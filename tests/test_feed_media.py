"""A feed page's attachments: one statement reads them (on PostgreSQL the feed's own,
api.disclosures.feed ATTACHED_MEDIA), and each viewer sees them exactly as the loaders'
statement and the plain path show them (restricted originals, redacted copies, a file not
yet public, an id naming no file, a repeated id)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from tortoise import Tortoise

import api.rows
import media.urls
from api.disclosures import feed
from api.execution import execute_options
from api.relay import from_global_id
from models.disclosures import Disclosure
from tests.test_disclosures import CLERK, OFFICIAL, SUPERVISOR, VILLAGER, gid, published
from tests.test_redaction import photo, redact

FEED = """query($r: ID) { disclosures(regionId: $r, first: 5) { edges { node { id title
  attachments { id kind mimeType purpose width height bytes sha256 url thumbnailUrl mediumUrl
    placeholder redacted restricted createdAt region { name } } } } } }"""
ROLES = (VILLAGER, CLERK, SUPERVISOR, OFFICIAL)
MISSING = 987654


def media_statements(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "tortoise.db_client" and '"media"' in r.getMessage()
    ]


async def test_a_feed_pages_media_come_in_its_statement_and_answer_as_before(
    app, client, gql, demo, caplog, monkeypatch
):
    # Signed URLs (restricted files) carry their expiry: hold the clock for the comparison.
    monkeypatch.setattr(media.urls, "time", SimpleNamespace(time=lambda: 1_900_000_000.0))
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    first, second = await photo(client, clerk, (800, 600)), await photo(client, clerk, (640, 480))
    d = await published(gql, clerk, village, title="修路材料", attachmentIds=[first["id"]])
    await published(gql, clerk, village, title="无附件")
    copy = (await redact(gql, clerk, first["id"]))["media"]  # the original becomes restricted
    unattached = await photo(client, clerk, (700, 500))  # staff only, no attachment time yet
    ids = [second, first, MISSING, copy, unattached, second]
    # Out of id order, with a missing id and a repeat: the page keeps this order.
    attachment_ids = [m if m == MISSING else int(from_global_id(m["id"])[1]) for m in ids]
    disclosure_id = int(from_global_id(d["id"])[1])
    await Disclosure.filter(id=disclosure_id).update(attachment_ids=attachment_ids)
    # The update above bypasses the writes that move the response cache on: signed in only.
    tokens = {role: await gql.login(role) for role in ROLES}
    variables = {"r": gid("Region", village.id)}

    async def answers(count: bool) -> dict:
        out = {}
        for role, token in tokens.items():
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
                out[role] = await gql.data(FEED, variables, token=token)
            if count and api.rows.shortcuts():  # the plain path reads them through tortoise
                [statement] = media_statements(caplog)  # one batch, whatever the page holds
                if Tortoise.get_connection("default").capabilities.dialect == "postgres":
                    assert '"disclosure" d' in statement  # the feed's own
        return out

    inline = await answers(count=True)
    node = next(
        e["node"] for e in inline[VILLAGER]["disclosures"]["edges"] if e["node"]["id"] == d["id"]
    )
    shown = [a["id"] for a in node["attachments"]]
    assert shown[0] == second["id"] and shown[-1] == second["id"] and copy["id"] in shown
    staff = next(
        e["node"] for e in inline[CLERK]["disclosures"]["edges"] if e["node"]["id"] == d["id"]
    )
    original = next(a for a in staff["attachments"] if a["id"] == first["id"])
    assert original["restricted"] and "sig=" in original["url"]
    villager_original = [a for a in node["attachments"] if a["id"] == first["id"]]
    assert all(a["url"] is None for a in villager_original)

    # The loaders' second statement (what SQLite ran before), then the plain path.
    newest_rows = feed.newest_rows

    async def without_media(*args):
        return await newest_rows(*args[:-1], False)

    monkeypatch.setattr(feed, "newest_rows", without_media)
    loaded = await answers(count=False)
    monkeypatch.undo()
    monkeypatch.setattr(media.urls, "time", SimpleNamespace(time=lambda: 1_900_000_000.0))
    monkeypatch.setattr(app.state.graphql, "execute_options", execute_options(False))
    monkeypatch.setattr(api.rows, "_shortcuts", False)
    plain = await answers(count=False)
    assert inline == loaded == plain
