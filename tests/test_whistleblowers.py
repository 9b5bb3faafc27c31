"""Whistleblowers and authorization against an adversary (issue 11): nobody grants
themselves a role, identity viewings are recorded and listed to the county's inspectors,
flag evidence takes the flag's region, PDFs and JPEGs lose their metadata, the audit log
does not lead back to a flagger, media are public only once published, and a draft id
answers like a missing one."""

from __future__ import annotations

import io
import struct
from datetime import datetime

import pikepdf
import pytest
from PIL import Image, ImageCms

from api.relay import from_global_id
from media.storage import media_key
from models.flags import IdentityView
from tests import media_files, test_attacks
from tests.client import GRANT_ROLE, error_codes
from tests.test_attacks import gid
from tests.test_comments import ADD, resident
from tests.test_disclosures import (
    ADMIN,
    CLERK,
    INSPECTOR,
    OFFICIAL,
    STEP,
    SUPERVISOR,
    VILLAGER,
    draft,
    published,
)
from tests.test_finance import SAVE, line
from tests.test_flags import FLAG_FIELDS, FLAG_ISSUE, raise_flag
from tests.test_media import REDACT, uploaded

others = test_attacks.others  # the same outsiders as the attack tests
FLAG = f"query($id: ID!) {{ flag(id: $id) {{ {FLAG_FIELDS} }} }}"


@pytest.fixture
async def item(gql, demo):
    d = await published(gql, await gql.login(CLERK), demo.villages[0], title="修路工程决算公示")
    return d["id"]


async def test_a_curious_admin_cannot_make_themself_an_inspector_to_see_flaggers(gql, demo, item):
    """Admins hold ROLE_GRANT on the county; the whistleblower rule keeps them from flaggers.
    Granting themselves INSPECTOR (or OFFICIAL) must not be the way round it."""
    flag = await raise_flag(gql, await gql.login(VILLAGER), item)
    admin = await gql.login(ADMIN)
    body = await gql(
        GRANT_ROLE,
        {
            "input": {
                "userId": gid("User", demo.users["ADMIN"].id),
                "role": "INSPECTOR",
                "regionId": gid("Region", demo.county.id),
            }
        },
        token=admin,
    )
    granted = not error_codes(body) and body["data"]["grantRole"]["errors"] == []
    seen = (await gql.data(FLAG, {"id": flag["id"]}, token=await gql.login(ADMIN)))["flag"]
    assert not granted and seen["flagger"] is None, body


async def test_the_unredacted_original_is_not_made_public_by_a_reupload(client, gql, demo):
    """Redaction restricts every row with the clean file's sha256; a re-upload of the same
    photo with other metadata (a different upload hash, the same clean file) must not make
    the original public again."""
    clerk = await gql.login(CLERK)
    receipt = media_files.phone_jpeg(orientation=1, size=(800, 600))
    source = (await uploaded(client, clerk, receipt))["media"]
    rect = {"x": 100, "y": 100, "w": 300, "h": 200}
    payload = await gql.mutate(
        "redactMedia", REDACT, {"mediaId": source["id"], "rectangles": [rect]}, token=clerk
    )
    assert payload["errors"] == []
    plain = f"/media/{source['sha256']}/original.jpg"
    assert (await client.get(plain)).status_code == 404
    again = receipt.replace(b"shot at home", b"shot at work")
    assert again != receipt
    second = (await uploaded(client, clerk, again))["media"]
    assert second["sha256"] == source["sha256"]  # the same clean file
    assert (await client.get(plain)).status_code == 404
    villager = await gql.login(VILLAGER)
    node = await gql(
        "query($id: ID!) { node(id: $id) { ... on Media { url } } }",
        {"id": second["id"]},
        token=villager,
    )
    assert node.get("data", {}).get("node") in (None, {"url": None}), node


async def test_a_draft_id_answers_like_a_missing_id_for_the_public(gql, demo):
    """markDisclosureRead and flagIssue on a draft must not say more than on a missing id."""
    d = await draft(gql, await gql.login(CLERK), demo.villages[0], title="秘密草稿")
    missing = gid("Disclosure", 999_999)
    villager = await gql.login(VILLAGER)
    read = """mutation($input: MarkDisclosureReadInput!) { markDisclosureRead(input: $input) {
      errors { code field } } }"""

    async def answer(body, name):
        return error_codes(body) or body["data"][name]["errors"]

    a = await answer(
        await gql(read, {"input": {"id": d["id"]}}, token=villager), "markDisclosureRead"
    )
    b = await answer(
        await gql(read, {"input": {"id": missing}}, token=villager), "markDisclosureRead"
    )
    assert a == b, (a, b)
    data = {"reasonCode": "AMOUNT_QUESTIONED", "body": "这个草稿的数字不对吧。"}
    a = await answer(
        await gql(FLAG_ISSUE, {"input": {**data, "targetId": d["id"]}}, token=villager), "flagIssue"
    )
    b = await answer(
        await gql(FLAG_ISSUE, {"input": {**data, "targetId": missing}}, token=villager), "flagIssue"
    )
    assert a == b, (a, b)


async def test_a_township_admin_cannot_make_themself_the_townships_official(
    gql, demo, others, item
):
    flag = await raise_flag(gql, await gql.login(VILLAGER), item)
    townadmin = await gql.login(others["TOWNADMIN"])
    me = (await gql.data("{ me { id } }", token=townadmin))["me"]["id"]
    body = await gql(
        GRANT_ROLE,
        {
            "input": {
                "userId": me,
                "role": "OFFICIAL",
                "regionId": gid("Region", demo.townships[0].id),
            }
        },
        token=townadmin,
    )
    granted = not error_codes(body) and body["data"]["grantRole"]["errors"] == []
    again = await gql.login(others["TOWNADMIN"])
    seen = (await gql.data(FLAG, {"id": flag["id"]}, token=again))["flag"]
    assert not granted and seen["flagger"] is None, (body, seen["flagger"])


async def test_the_audit_request_id_of_a_flag_entry_does_not_lead_back_to_the_flagger(
    client, gql, demo, item
):
    """The client's X-Request-ID is stored with each entry and logged with the client's IP;
    on a flag's entries it must be hidden like the actor and IP, or an admin links the flag
    to the same phone's other requests (its logins name the user)."""
    villager = await gql.login(VILLAGER)
    response = await client.post(
        "/graphql",
        json={
            "query": FLAG_ISSUE,
            "variables": {
                "input": {
                    "targetId": item,
                    "reasonCode": "AMOUNT_QUESTIONED",
                    "body": "决算比预算多出两万元，没有说明原因。",
                }
            },
        },
        headers={"Authorization": f"Bearer {villager}", "X-Request-ID": "zhao-phone-000002"},
    )
    assert response.json()["data"]["flagIssue"]["errors"] == []
    log = await gql.data(
        """query($r: ID!) { auditLog(regionId: $r, action: "flag.submit") {
          edges { node { actor { id } ip requestId } } } }""",
        {"r": gid("Region", demo.county.id)},
        token=await gql.login(ADMIN),
    )
    row = log["auditLog"]["edges"][0]["node"]
    assert row["actor"] is None and row["ip"] is None
    assert row["requestId"] is None, row


async def test_media_of_drafts_and_unpublished_months_is_not_public(client, gql, demo):
    """A receipt on a month awaiting review, or an attachment of a draft, is not yet public:
    anyone enumerating Media ids through `node` must not get its file."""
    clerk = await gql.login(CLERK)
    receipt_jpeg = media_files.phone_jpeg(orientation=1, size=(300, 200))
    media = (await uploaded(client, clerk, receipt_jpeg))["media"]
    v = gid("Region", demo.villages[0].id)
    data = {
        "villageId": v,
        "year": 2026,
        "month": 5,
        "openingBalanceFen": 1_000_000,
        "lines": [line(3, 120, "东溪文具店", media["id"])],
    }
    assert (await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk))["errors"] == []
    await draft(gql, clerk, demo.villages[0], title="带附件的草稿", attachmentIds=[media["id"]])
    for phone in (None, VILLAGER):
        token = await gql.login(phone) if phone else None
        body = await gql(
            "query($id: ID!) { node(id: $id) { ... on Media { url sha256 } } }",
            {"id": media["id"]},
            token=token,
        )
        node = (body.get("data") or {}).get("node")
        assert node is None or node["url"] is None, (phone, body)


# --- evidence, PDFs and JPEGs --------------------------------------------------------------


async def test_a_flags_evidence_takes_the_flags_region_not_the_flaggers_village(client, gql, demo):
    """The photo was uploaded from the villager's home village; flagged on a township item,
    its public region must be the township's, or it points at the flagger's village."""
    official = await gql.login(OFFICIAL)
    township = demo.townships[0]
    d = await published(gql, official, township, category="NOTICE", title="镇道路养护通知")
    villager = await gql.login(VILLAGER)
    photo = (await uploaded(client, villager, media_files.phone_jpeg(), purpose="EVIDENCE"))[
        "media"
    ]
    assert photo["region"]["name"] == demo.villages[0].name
    await raise_flag(gql, villager, d["id"], mediaIds=[photo["id"]])
    body = await gql.data(
        "query($id: ID!) { node(id: $id) { ... on Media { url region { id name } } } }",
        {"id": photo["id"]},
    )
    assert body["node"]["region"] == {"id": gid("Region", township.id), "name": township.name}
    assert body["node"]["url"] is not None  # attached to a flag: public, in the township


def secret_pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.add_blank_page(page_size=(595, 842))
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["xmp-zhao-dashan"]
    pdf.trailer.Info = pdf.make_indirect(
        pikepdf.Dictionary(Author=pikepdf.String("info-zhao"), Creator=pikepdf.String("ZPhone"))
    )
    script = pdf.make_stream(b"app.alert('names-script')")
    pdf.Root.OpenAction = pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('open-script')")
    )
    pdf.Root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(
            Names=pikepdf.Array(
                [pikepdf.String("x"), pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=script)]
            )
        )
    )
    pdf.attachments["home.txt"] = pikepdf.AttachedFileSpec(pdf, b"embedded-home-address")
    link = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot,
        Subtype=pikepdf.Name.Link,
        Rect=[0, 0, 10, 10],
        A=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("annot-script")),
    )
    pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


PDF_SECRETS = (
    b"xmp-zhao-dashan",
    b"info-zhao",
    b"ZPhone",
    b"names-script",
    b"open-script",
    b"embedded-home-address",
    b"annot-script",
)


async def test_a_pdf_is_stored_without_metadata_scripts_files_or_actions(
    client, gql, demo, settings
):
    data = secret_pdf()
    assert all(secret in data for secret in PDF_SECRETS)
    clerk = await gql.login(CLERK)
    media = (
        await uploaded(client, clerk, data, purpose="DOCUMENT", content_type="application/pdf")
    )["media"]
    stored = (settings.media_root / media_key(media["sha256"], "original.pdf")).read_bytes()
    served = (await client.get(media["url"])).content
    assert served == stored
    for secret in (*PDF_SECRETS, b"/JavaScript", b"/OpenAction", b"/EmbeddedFile", b"/Metadata"):
        assert secret not in stored, secret
    with pikepdf.open(io.BytesIO(stored)) as pdf:
        assert len(pdf.pages) == 2  # the pages are kept
        assert "/Info" not in pdf.trailer and "/Metadata" not in pdf.Root
        assert len(pdf.attachments) == 0
        assert not {"/OpenAction", "/Names", "/AA", "/AF"} & set(pdf.Root.keys())
        for annot in pdf.pages[0].get("/Annots", []):
            assert "/A" not in annot and "/AA" not in annot


def with_app2(jpeg: bytes, *bodies: bytes) -> bytes:
    segments = b"".join(b"\xff\xe2" + struct.pack(">H", len(b) + 2) + b for b in bodies)
    return jpeg[:2] + segments + jpeg[2:]


async def test_a_jpeg_keeps_only_a_standard_icc_profile_in_app2(client, gql, demo, settings):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    Image.new("RGB", (200, 100), (200, 30, 30)).save(out, "JPEG", icc_profile=srgb)
    clean = out.getvalue()
    hidden = with_app2(
        media_files.phone_jpeg(orientation=1),
        b"ICC_PROFILE\x00\x01\x01" + "村民赵大山 13800000006".encode(),
        b"NOTE\x00app2-text-secret",
    )
    clerk = await gql.login(CLERK)
    for data, profile in ((clean, srgb), (hidden, None)):
        media = (await uploaded(client, clerk, data))["media"]
        path = settings.media_root / media_key(media["sha256"], "original.jpg")
        stored = path.read_bytes()
        assert "赵大山".encode() not in stored and b"app2-text-secret" not in stored
        assert Image.open(io.BytesIO(stored)).info.get("icc_profile") == profile


# --- identity views -------------------------------------------------------------------------

VIEWS = """query($r: ID!, $first: Int, $after: String) {
  identityViews(regionId: $r, first: $first, after: $after) {
    edges { cursor node { shown viewer { id } flag { id } at } }
    pageInfo { hasNextPage endCursor } } }"""
FLAGS_QUEUE = """query($r: ID!) { flags(regionId: $r) { edges { node {
  id flagger { id } supporters { id } } } } }"""


async def test_every_showing_of_a_flaggers_identity_is_recorded_for_the_countys_inspectors(
    gql, demo, item
):
    villager = await gql.login(VILLAGER)
    first = await raise_flag(gql, villager, item)
    second = await raise_flag(
        gql, villager, item, reasonCode="RECEIPT_MISSING", body="这笔支出没有附发票。"
    )
    official, inspector = await gql.login(OFFICIAL), await gql.login(INSPECTOR)
    county = gid("Region", demo.county.id)
    assert (await gql.data(VIEWS, {"r": county}, token=inspector))["identityViews"]["edges"] == []
    # The flagger seeing their own name, and staff who may not see it, record nothing.
    await gql.data(FLAG, {"id": first["id"]}, token=villager)
    for phone in (ADMIN, CLERK, SUPERVISOR):
        seen = await gql.data(FLAG, {"id": first["id"]}, token=await gql.login(phone))
        assert seen["flag"]["flagger"] is None
    assert await IdentityView.all().count() == 0
    # The official's queue names both flaggers: two views, written in one batch.
    queue = await gql.data(FLAGS_QUEUE, {"r": gid("Region", demo.villages[0].id)}, token=official)
    assert len(queue["flags"]["edges"]) == 2
    assert all(e["node"]["flagger"] for e in queue["flags"]["edges"])
    # The admin's audit log shows no actor; the inspector's names the flagger: a view too.
    audit = """query($r: ID!) { auditLog(regionId: $r, action: "flag.submit") {
      edges { node { actor { id } } } } }"""
    log = await gql.data(audit, {"r": county}, token=inspector)
    assert all(e["node"]["actor"] for e in log["auditLog"]["edges"])
    rows = await IdentityView.all().order_by("id").values("viewer_id", "flag_id", "shown")
    official_id, inspector_id = demo.users["OFFICIAL"].id, demo.users["INSPECTOR"].id
    ids = {int(from_global_id(f["id"])[1]) for f in (first, second)}
    assert {(r["viewer_id"], r["flag_id"], r["shown"]) for r in rows} == {
        *((official_id, i, "FLAGGER") for i in ids),
        *((inspector_id, i, "AUDIT_ACTOR") for i in ids),
    }
    listed = (await gql.data(VIEWS, {"r": county, "first": 3}, token=inspector))["identityViews"]
    assert len(listed["edges"]) == 3 and listed["pageInfo"]["hasNextPage"]
    assert listed["edges"][0]["node"]["viewer"]["id"] == gid("User", inspector_id)  # newest first
    rest = await gql.data(
        VIEWS, {"r": county, "after": listed["pageInfo"]["endCursor"]}, token=inspector
    )
    assert len(rest["identityViews"]["edges"]) == 1
    assert rest["identityViews"]["edges"][0]["node"]["viewer"]["id"] == gid("User", official_id)
    assert {e["node"]["flag"]["id"] for e in listed["edges"]} <= {first["id"], second["id"]}


async def test_only_the_inspectors_covering_the_region_list_identity_views(gql, demo, item):
    await raise_flag(gql, await gql.login(VILLAGER), item)
    county = gid("Region", demo.county.id)
    village = gid("Region", demo.villages[0].id)
    assert error_codes(await gql(VIEWS, {"r": county})) == ["UNAUTHENTICATED"]
    for phone in (ADMIN, OFFICIAL, CLERK, SUPERVISOR, VILLAGER):
        token = await gql.login(phone)
        for region in (county, village):
            assert error_codes(await gql(VIEWS, {"r": region}, token=token)) == ["FORBIDDEN"]
    inspector = await gql.login(INSPECTOR)
    assert "identityViews" in await gql.data(VIEWS, {"r": village}, token=inspector)


async def test_supporters_shown_to_an_official_are_a_recorded_view(gql, demo, item):
    flag = await raise_flag(gql, await gql.login(VILLAGER), item)
    out = await gql.mutate(
        "supportFlag",
        "mutation($input: SupportFlagInput!) { supportFlag(input: $input) { errors { code } } }",
        {"id": flag["id"]},
        token=await resident(gql, demo, "13911115501"),
    )
    assert out["errors"] == []
    official = await gql.login(OFFICIAL)
    seen = await gql.data(FLAG, {"id": flag["id"]}, token=official)
    assert seen["flag"]["supporters"]
    shown = set(await IdentityView.all().values_list("shown", flat=True))
    assert shown == {"FLAGGER", "SUPPORTERS"}


async def test_a_flag_entry_shows_admins_only_the_day_inspectors_the_exact_time(gql, demo, item):
    await raise_flag(gql, await gql.login(VILLAGER), item)
    query = """query($r: ID!) { auditLog(regionId: $r, action: "flag.submit") {
      edges { node { at requestId } } } }"""
    county = gid("Region", demo.county.id)
    rows = {}
    for phone in (ADMIN, INSPECTOR):
        log = await gql.data(query, {"r": county}, token=await gql.login(phone))
        rows[phone] = log["auditLog"]["edges"][0]["node"]
    day = datetime.fromisoformat(rows[ADMIN]["at"])
    exact = datetime.fromisoformat(rows[INSPECTOR]["at"])
    assert (day.hour, day.minute, day.second, day.microsecond) == (0, 0, 0, 0)
    assert day.date() == exact.date() and exact != day
    assert rows[ADMIN]["requestId"] is None and rows[INSPECTOR]["requestId"] is not None
    # Entries of other objects keep their exact time for admins.
    other = await gql.data(
        """query($r: ID!) { auditLog(regionId: $r, action: "disclosure.publish") {
          edges { node { at requestId } } } }""",
        {"r": county},
        token=await gql.login(ADMIN),
    )
    assert datetime.fromisoformat(other["auditLog"]["edges"][0]["node"]["at"]).microsecond


async def test_a_draft_answers_like_a_missing_id_on_every_path(gql, demo, others):
    d = await draft(gql, await gql.login(CLERK), demo.villages[0], title="秘密草稿")
    missing = gid("Disclosure", 999_999)
    queries = [
        ("query($id: ID!) { node(id: $id) { id } }", "node", None),
        ("query($id: ID!) { disclosure(id: $id) { id } }", "disclosure", None),
        (STEP % ("PublishDisclosure", "publishDisclosure"), "publishDisclosure", "id"),
        (STEP % ("SubmitDisclosure", "submitDisclosure"), "submitDisclosure", "id"),
        (ADD, "addComment", "targetId"),
    ]
    tokens_ = [None, await gql.login(VILLAGER)]
    tokens_ += [await gql.login(others[k]) for k in ("CLERK2", "OFFICIAL2", "VILLAGER2")]
    for token in tokens_:
        for query, name, field in queries:
            answers = []
            for target in (d["id"], missing):
                if field is None:
                    variables = {"id": target}
                elif name == "addComment":
                    variables = {"input": {"targetId": target, "body": "这是什么？"}}
                else:
                    variables = {"input": {"id": target}}
                body = await gql(query, variables, token=token)
                payload = (body.get("data") or {}).get(name)
                answers.append((error_codes(body), payload and payload.get("errors")))
            assert answers[0] == answers[1], (name, token, answers)
