"""Redacting a receipt that is already published (issue 12): the blacked-out copy takes the
original's place everywhere it is published (a disclosure's attachments and versions, a
month's lines, a flag's evidence), the original stays for staff only, and the chain records
each replacement so that `verifyLedger` holds and still catches tampering, the replacement's
included."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from models.audit import AuditEntry
from models.media import Media
from scripts import verify_ledger
from tests import media_files, test_attacks
from tests.client import error_codes
from tests.test_disclosures import CLERK, OFFICIAL, SUPERVISOR, VILLAGER, published
from tests.test_finance import line
from tests.test_flags import raise_flag
from tests.test_integrity import approved_month, gid, pk, sql, verdict
from tests.test_media import REDACT, uploaded

others = test_attacks.others  # the same outsiders as the attack tests
INSPECTOR = "13800000002"
RECT = {"x": 100, "y": 100, "w": 300, "h": 200}
INSIDE, OUTSIDE = (250, 200), (600, 500)
ITEM = """query($id: ID!) { disclosure(id: $id) {
  attachments { id url sha256 redacted restricted }
  versions { version attachments { id url sha256 } } } }"""
MONTH = """query($v: ID!) { monthlyAccount(villageId: $v, year: 2026, month: 5) {
  lines { edges { node { lineNo receipt { id url sha256 redacted } } } } } }"""
NODE = """query($id: ID!) { node(id: $id) { ... on Media { url restricted } } }"""


async def photo(client, token, size) -> dict:
    data = media_files.phone_jpeg(orientation=1, size=size)
    return (await uploaded(client, token, data))["media"]


async def redact(gql, token, media_id, reason="遮挡收款人身份证号", rect=RECT):
    variables = {"mediaId": media_id, "rectangles": [rect]}
    if reason is not None:
        variables["reason"] = reason
    return await gql.mutate("redactMedia", REDACT, variables, token=token)


async def pixels(client, url) -> Image.Image:
    response = await client.get(url)
    assert response.status_code == 200, url
    return Image.open(io.BytesIO(response.content)).convert("RGB")


async def assert_blacked_out(client, url) -> None:
    img = await pixels(client, url)
    assert max(img.getpixel(INSIDE)) < 20, "the rectangle is not black"
    assert max(img.getpixel(OUTSIDE)) > 200, "outside the rectangle changed"


@pytest.fixture
async def setup(client, gql, demo):
    """A published disclosure with a photo and a published month with a photo receipt."""
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    notice_photo = await photo(client, clerk, (800, 600))
    receipt = await photo(client, clerk, (820, 620))
    d = await published(
        gql, clerk, village, title="修路材料采购公示", attachmentIds=[notice_photo["id"]]
    )
    month = await approved_month(
        gql, village, [line(3, 120, "东溪建材店", receipt["id"]), line(8, 60, "村卫生保洁队")]
    )
    assert (await verdict(gql, village))["ok"]
    return {
        "clerk": clerk,
        "village": village,
        "disclosure": d["id"],
        "month": month["disclosureId"],
        "photo": notice_photo,
        "receipt": receipt,
    }


async def test_the_redacted_copy_replaces_a_published_photo_and_the_chain_says_so(
    client, gql, demo, setup
):
    village, clerk = setup["village"], setup["clerk"]
    before = await verdict(gql, village)
    out = await redact(gql, clerk, setup["photo"]["id"])
    assert out["errors"] == [], out
    copy = out["media"]

    # The public sees the copy where the original was: current version and every version.
    item = (await gql.data(ITEM, {"id": setup["disclosure"]}))["disclosure"]
    [shown] = item["attachments"]
    assert shown["id"] == copy["id"] and shown["redacted"] and not shown["restricted"]
    assert [a["id"] for v in item["versions"] for a in v["attachments"]] == [copy["id"]]
    await assert_blacked_out(client, shown["url"])
    assert "sig=" not in shown["url"]
    # The feed shows it too.
    feed = """query($r: ID) { disclosures(regionId: $r) { edges { node { id
      attachments { id thumbnailUrl } } } } }"""
    nodes = (await gql.data(feed, {"r": gid("Region", village.id)}))["disclosures"]["edges"]
    [entry] = [n["node"] for n in nodes if n["node"]["id"] == setup["disclosure"]]
    assert [a["id"] for a in entry["attachments"]] == [copy["id"]]
    assert (await client.get(entry["attachments"][0]["thumbnailUrl"])).status_code == 200

    # The original: 404 in public, a signed URL for staff as before.
    original = setup["photo"]
    assert (await client.get(original["url"].split("?")[0])).status_code == 404
    assert error_codes(await gql(NODE, {"id": original["id"]})) == ["NOT_FOUND"]
    staff = (await gql.data(NODE, {"id": original["id"]}, token=clerk))["node"]
    assert staff["restricted"] and "sig=" in staff["url"]
    assert (await client.get(staff["url"])).status_code == 200

    # One new entry: which hash replaced which, in which version, and why.
    after = await verdict(gql, village)
    assert after["ok"] and after["length"] == before["length"] + 1
    _, entries, _ = await verify_ledger.load_checked(village.code)
    last = entries[-1]["content"]
    assert last["kind"] == "REDACT" and last["reason"] == "遮挡收款人身份证号"
    assert last["replaced"] == [{"version": 1, "from": original["sha256"], "to": copy_sha(item)}]
    assert last["versions"] == [{"version": 1, "attachments": [copy_sha(item)]}]
    # The served attachments equal what that latest entry covers.
    assert [a["sha256"] for a in item["attachments"]] == last["versions"][0]["attachments"]
    entry = await AuditEntry.get(action="disclosure.redact_attachment")
    assert entry.after["reason"] == "遮挡收款人身份证号" and entry.actor_id is not None


def copy_sha(item: dict) -> str:
    return item["attachments"][0]["sha256"]


async def test_a_published_months_receipt_is_replaced_on_its_line(client, gql, demo, setup):
    village = setup["village"]
    before = await verdict(gql, village)
    out = await redact(gql, await gql.login(SUPERVISOR), setup["receipt"]["id"])
    assert out["errors"] == [], out
    copy = out["media"]
    month = await gql.data(MONTH, {"v": gid("Region", village.id)})
    lines = [e["node"] for e in month["monthlyAccount"]["lines"]["edges"]]
    assert lines[0]["receipt"]["id"] == copy["id"] and lines[0]["receipt"]["redacted"]
    assert lines[1]["receipt"] is None
    await assert_blacked_out(client, lines[0]["receipt"]["url"])
    item = (await gql.data(ITEM, {"id": setup["month"]}))["disclosure"]
    assert [a["id"] for a in item["attachments"]] == [copy["id"]]
    assert (await client.get(setup["receipt"]["url"].split("?")[0])).status_code == 404

    after = await verdict(gql, village)
    assert after["ok"] and after["length"] == before["length"] + 1
    _, entries, _ = await verify_ledger.load_checked(village.code)
    last = entries[-1]["content"]
    assert last["kind"] == "REDACT" and last["disclosure"] == pk(setup["month"])
    [state] = last["versions"]
    assert state["attachments"] == [lines[0]["receipt"]["sha256"]]
    assert [entry["receipt"] for entry in state["lines"]] == [lines[0]["receipt"]["sha256"], None]
    # The month's publication entry still hashes as it did: it is recomputed as published.
    publication = next(
        e["content"] for e in entries if e["content"].get("disclosure") == pk(setup["month"])
    )
    assert publication["lines"][0]["receipt"] == setup["receipt"]["sha256"]


async def test_redacting_again_after_a_correction_keeps_every_version_and_the_chain(
    client, gql, demo, setup
):
    village, clerk = setup["village"], setup["clerk"]
    first = (await redact(gql, clerk, setup["photo"]["id"]))["media"]
    correct = """mutation($input: CorrectDisclosureInput!) { correctDisclosure(input: $input) {
      errors { code } } }"""
    fixed = await gql.mutate(
        "correctDisclosure",
        correct,
        {"id": setup["disclosure"], "body": "采购金额更正为九千元。", "reason": "金额录入错误"},
        token=clerk,
    )
    assert fixed["errors"] == [] and (await verdict(gql, village))["ok"]
    second = await redact(gql, clerk, first["id"], "还有银行账号未遮挡", {**RECT, "y": 350})
    assert second["errors"] == []
    item = (await gql.data(ITEM, {"id": setup["disclosure"]}))["disclosure"]
    assert [a["id"] for a in item["attachments"]] == [second["media"]["id"]]
    assert [[a["id"] for a in v["attachments"]] for v in item["versions"]] == [
        [second["media"]["id"]],
        [second["media"]["id"]],
    ]
    assert (await client.get(first["url"].split("?")[0])).status_code == 404
    check = await verdict(gql, village)
    assert check["ok"], check
    _, entries, _ = await verify_ledger.load_checked(village.code)
    assert [e["content"]["kind"] for e in entries][-3:] == ["REDACT", "PUBLISH", "REDACT"]
    assert [v["version"] for v in entries[-1]["content"]["versions"]] == [1, 2]


async def test_a_retracted_items_photo_is_replaced_and_the_retraction_stays(
    client, gql, demo, setup
):
    village, clerk = setup["village"], setup["clerk"]
    retract = """mutation($input: RetractDisclosureInput!) { retractDisclosure(input: $input) {
      errors { code } } }"""
    out = await gql.mutate(
        "retractDisclosure",
        retract,
        {"id": setup["disclosure"], "reason": "采购未完成"},
        token=clerk,
    )
    assert out["errors"] == []
    copy = (await redact(gql, clerk, setup["photo"]["id"]))["media"]
    query = """query($id: ID!) { disclosure(id: $id) { status retractionReason
      attachments { id } } }"""
    item = (await gql.data(query, {"id": setup["disclosure"]}))["disclosure"]
    assert item == {
        "status": "RETRACTED",
        "retractionReason": "采购未完成",
        "attachments": [{"id": copy["id"]}],
    }
    assert (await verdict(gql, village))["ok"]
    await sql(f"UPDATE disclosure SET status = 'PUBLISHED' WHERE id = {pk(setup['disclosure'])}")
    assert (await verdict(gql, village))["ok"] is False  # the retraction is still covered


async def test_a_draft_takes_the_copy_which_becomes_public_only_when_published(client, gql, demo):
    from tests.test_disclosures import STEP, draft

    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    original = await photo(client, clerk, (800, 600))
    d = await draft(gql, clerk, village, title="村务公开草稿", attachmentIds=[original["id"]])
    copy = (await redact(gql, clerk, original["id"], reason=None))["media"]
    item = (await gql.data(ITEM, {"id": d["id"]}, token=clerk))["disclosure"]
    assert [a["id"] for a in item["attachments"]] == [copy["id"]]
    assert error_codes(await gql(NODE, {"id": copy["id"]})) == ["NOT_FOUND"]  # not yet public
    out = await gql.mutate(
        "publishDisclosure",
        STEP % ("PublishDisclosure", "publishDisclosure"),
        {"id": d["id"]},
        token=clerk,
    )
    assert out["errors"] == []
    item = (await gql.data(ITEM, {"id": d["id"]}))["disclosure"]
    assert [a["id"] for a in item["attachments"]] == [copy["id"]]
    await assert_blacked_out(client, item["attachments"][0]["url"])
    assert (await verdict(gql, village))["ok"]


async def test_a_flags_evidence_is_replaced_too(client, gql, demo, setup):
    villager = await gql.login(VILLAGER)
    data = media_files.phone_jpeg(orientation=1, size=(800, 600), quality=80)
    evidence = (await uploaded(client, villager, data, purpose="EVIDENCE"))["media"]
    flag = await raise_flag(gql, villager, setup["disclosure"], mediaIds=[evidence["id"]])
    out = await redact(gql, await gql.login(OFFICIAL), evidence["id"], "遮挡照片中的人脸")
    assert out["errors"] == [], out
    query = "query($id: ID!) { flag(id: $id) { attachments { id url redacted } } }"
    [shown] = (await gql.data(query, {"id": flag["id"]}))["flag"]["attachments"]
    assert shown["id"] == out["media"]["id"] and shown["redacted"]
    await assert_blacked_out(client, shown["url"])
    assert (await client.get(evidence["url"].split("?")[0])).status_code == 404
    assert await AuditEntry.exists(action="flag.redact_evidence")


async def test_who_may_redact_a_published_receipt_and_that_a_reason_is_needed(
    client, gql, demo, setup, others
):
    village = setup["village"]
    before = await verdict(gql, village)
    media_before = await Media.all().count()
    for phone in (VILLAGER, INSPECTOR):
        body = await gql(
            REDACT,
            {"input": {"mediaId": setup["photo"]["id"], "rectangles": [RECT], "reason": "遮挡"}},
            token=await gql.login(phone),
        )
        assert error_codes(body) == ["FORBIDDEN"], phone
    body = await gql(
        REDACT, {"input": {"mediaId": setup["photo"]["id"], "rectangles": [RECT], "reason": "遮挡"}}
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]
    # Another village's clerk: not theirs.
    body = await gql(
        REDACT,
        {"input": {"mediaId": setup["photo"]["id"], "rectangles": [RECT], "reason": "遮挡"}},
        token=await gql.login(others["CLERK2"]),
    )
    assert error_codes(body) == ["FORBIDDEN"]
    for reason in (None, " "):
        out = await redact(gql, setup["clerk"], setup["photo"]["id"], reason)
        assert out["errors"] == [{"code": "REASON_REQUIRED", "field": "reason"}], reason
    assert await Media.all().count() == media_before  # nothing changed
    assert await verdict(gql, village) == before
    assert (await client.get(setup["photo"]["url"])).status_code == 200


# --- tampering with the replacement --------------------------------------------------------

# Entries: 1 publishes the disclosure, 2 the month, 3 and 4 redact their photos. Each case
# names the entry it must break at.
TAMPERING = {
    "served attachment back to the original": (
        "UPDATE disclosure SET attachment_ids = '[{original}]' WHERE id = {d}",
        3,
    ),
    "served attachment to another file": (
        "UPDATE disclosure SET attachment_ids = '[{other}]' WHERE id = {d}",
        3,
    ),
    "version's attachment back to the original": (
        'UPDATE disclosure_version SET attachments = \'[{{"id": {original}, "sha256": '
        '"{original_sha}"}}]\' WHERE disclosure_id = {d}',
        3,
    ),
    # the earlier publications are recomputed through the mapping: they break first
    "replacement mapping": ("UPDATE media_replacement SET replacement_id = {other}", 1),
    "replacement mapping's original": ("UPDATE media_replacement SET original_id = {other}", 1),
    "replacement mapping deleted": ("DELETE FROM media_replacement", 1),
    "redacted file": ("UPDATE media SET sha256 = '{fake_sha}' WHERE id = {copy}", 1),
    "redaction reason": ("UPDATE ledger_entry SET reason = '无' WHERE kind = 'REDACT'", 3),
    # the last entry and its mapping gone: the month's publication no longer matches
    "redaction entry deleted": (
        "DELETE FROM media_replacement WHERE entry_id IN (SELECT id FROM ledger_entry"
        " WHERE seq = 4 AND region_id = {village}); DELETE FROM ledger_entry WHERE seq = 4"
        " AND region_id = {village}",
        2,
    ),
    "month line back to the original": (
        "UPDATE account_line SET receipt_id = {receipt} WHERE receipt_id = {receipt_copy}",
        4,
    ),
    "month attachments back to the original": (
        "UPDATE disclosure SET attachment_ids = '[{receipt}]' WHERE id = {month}",
        4,
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
async def test_tampering_with_a_replacement_breaks_the_chain(client, gql, demo, setup, case):
    village, clerk = setup["village"], setup["clerk"]
    copy = (await redact(gql, clerk, setup["photo"]["id"]))["media"]
    receipt_copy = (await redact(gql, clerk, setup["receipt"]["id"]))["media"]
    other = await photo(client, clerk, (640, 480))
    assert (await verdict(gql, village))["ok"]
    statement, seq = TAMPERING[case]
    await sql(
        statement.format(
            d=pk(setup["disclosure"]),
            village=village.id,
            month=pk(setup["month"]),
            original=pk(setup["photo"]["id"]),
            original_sha=setup["photo"]["sha256"],
            other=pk(other["id"]),
            copy=pk(copy["id"]),
            receipt=pk(setup["receipt"]["id"]),
            receipt_copy=pk(receipt_copy["id"]),
            fake_sha="d" * 64,
        )
    )
    broken = await verdict(gql, village)  # scripts.verify_ledger must agree (see verdict)
    assert (broken["ok"], broken["firstBrokenAt"]) == (False, seq), (case, broken)
