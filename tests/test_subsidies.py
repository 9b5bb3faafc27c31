"""我的补贴 through the API: a villager enters their ID number once and sees the published
table rows that name them; nobody sees or probes anyone else's, and neither the number nor
its keyed hash leaves the server (responses, audit log, ledger export, notifications)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from graphql import GraphQLInputObjectType, get_named_type
from tortoise import Tortoise

from api.schema import schema
from api.settings import Settings
from models.accounts import User
from models.accounts.auth import Passwords
from models.accounts.operations import create_user, verify_residency
from models.audit import AuditEntry
from models.disclosures import Disclosure, StagedCorrection, SubsidyEntry
from models.disclosures.ledger import export_entries
from models.disclosures.publishing import publish_due
from models.errors import Forbidden
from models.policy import Viewer, viewer_for_user
from models.regions import Region
from models.subsidies import derive_key, id_hash
from models.subsidies.operations import release_id_number
from scripts.seed_demo import DEMO_PASSWORD
from tests.client import REGISTER, error_codes
from tests.test_disclosures import (
    ADMIN,
    CLERK,
    INSPECTOR,
    OFFICIAL,
    SUPERVISOR,
    VILLAGER,
    _pk,
    draft,
    gid,
    item_id,
    published,
    step,
)
from tests.test_disclosures_masking import masked, with_check_digit, wrong_check_digit
from tests.test_fanout import run_jobs

ID_A = with_check_digit("43012419780512163")  # the demo villager 赵大山
ID_B = with_check_digit("51342519600101881")
ID_C = with_check_digit("11010519491231002")  # ends in X
ID_CLERK = with_check_digit("36042119850615201")
SYSTEM = Viewer.for_system("test:subsidies")

SET = """mutation($input: SetMyIdNumberInput!) { setMyIdNumber(input: $input) {
  idNumberSet errors { code field message } } }"""
CLEAR = "mutation { clearMyIdNumber { idNumberSet errors { code } } }"
MINE = """query($first: Int, $after: String) { mySubsidies(first: $first, after: $after) {
  edges { cursor node { disclosure { id title } version village { name } item amountFen period
    publishedAt cells { label value } } }
  pageInfo { hasNextPage endCursor } } }"""
ME = "{ me { id idNumberSet } }"
CORRECT = """mutation($input: CorrectDisclosureInput!) { correctDisclosure(input: $input) {
  disclosure { id version status tables { rows } } errors { code field } } }"""
RETRACT = """mutation($input: RetractDisclosureInput!) { retractDisclosure(input: $input) {
  disclosure { status } errors { code } } }"""
DISCLOSURE = """query($id: ID!) { disclosure(id: $id) { id title body period
  tables { title columns { key label kind } rows }
  versions { version tables { rows } } stagedCorrection { tables { rows } } } }"""


def table(*rows: list[str], title: str = "2026年耕地地力保护补贴发放名单") -> dict:
    return {
        "title": title,
        "columns": [
            {"key": "name", "label": "姓名", "kind": "NAME"},
            {"key": "id", "label": "身份证号", "kind": "ID_NUMBER"},
            {"key": "area", "label": "面积（亩）", "kind": "NUMBER"},
            {"key": "amount", "label": "金额（分）", "kind": "MONEY_FEN"},
        ],
        "rows": [list(r) for r in rows],
    }


ROW_A1 = ["赵大山", ID_A, "3.5", "42000"]
ROW_B = ["钱二", ID_B, "2", "24000"]
ROW_A2 = ["赵大山", f"{ID_A[:6]} {ID_A[6:14]} {ID_A[14:]}", "1", "12000"]  # typed with spaces
ROW_NOBODY = ["孙三", wrong_check_digit("62010219851230001"), "1", "12000"]  # no valid number
LIST = table(ROW_A1, ROW_B, ROW_A2, ROW_NOBODY)


async def villager(settings, demo, phone: str, name: str, *, verified: bool = True) -> str:
    """A resident of the demo village made by the operators; returns an access token."""
    user = await create_user(
        SYSTEM,
        Passwords(settings.auth),
        phone=phone,
        password=DEMO_PASSWORD,
        name=name,
        village_id=demo.villages[0].id,
    )
    await verify_residency(SYSTEM, user.id)
    if verified:
        await User.filter(id=user.id).update(phone_verified_at=datetime.now(UTC))
    return phone


async def set_number(gql, token: str, number: str) -> dict:
    return await gql.mutate("setMyIdNumber", SET, {"idNumber": number}, token=token)


async def mine(gql, token: str, **variables) -> dict:
    return (await gql.data(MINE, variables, token=token))["mySubsidies"]


def amounts(page: dict) -> list[float]:
    return [e["node"]["amountFen"] for e in page["edges"]]


async def test_a_villager_sees_exactly_the_rows_naming_them(gql, demo, settings):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    # published before anyone entered a number: the row keys were kept at publication
    d = await published(
        gql,
        clerk,
        village,
        title="耕地地力保护补贴发放公示",
        body="以下补贴已发放到户，如有异议请于七日内向村委会反映。",
        period="2026-H1",
        tables=[LIST],
    )
    a = await gql.login(VILLAGER)
    b = await gql.login(await villager(settings, demo, "13900000011", "钱二"))
    c = await gql.login(await villager(settings, demo, "13900000012", "周五"))
    assert (await gql.data(ME, token=a))["me"]["idNumberSet"] is False
    assert (await mine(gql, a))["edges"] == []  # no number entered: nothing to match

    # typed with spaces and a lower-case x: the same number
    assert await set_number(gql, a, f" {ID_A[:6]} {ID_A[6:]} ") == {
        "idNumberSet": True,
        "errors": [],
    }
    assert (await set_number(gql, b, ID_B))["idNumberSet"] is True
    assert (await set_number(gql, c, ID_C.lower()))["idNumberSet"] is True
    assert (await gql.data(ME, token=a))["me"]["idNumberSet"] is True

    page = await mine(gql, a)
    assert amounts(page) == [12000, 42000]  # newest entry first: the later row
    first = page["edges"][0]["node"]
    assert first == {
        "disclosure": {"id": d["id"], "title": "耕地地力保护补贴发放公示"},
        "version": 1,
        "village": {"name": village.name},
        "item": "2026年耕地地力保护补贴发放名单",
        "amountFen": 12000,
        "period": "2026-H1",
        "publishedAt": first["publishedAt"],
        "cells": [
            {"label": "姓名", "value": "赵大山"},
            {"label": "身份证号", "value": masked(ID_A)},  # as published: masked
            {"label": "面积（亩）", "value": "1"},
            {"label": "金额（分）", "value": "12000"},
        ],
    }
    assert first["publishedAt"]
    assert amounts(await mine(gql, b)) == [24000]
    assert (await mine(gql, c))["edges"] == []

    # pages: one at a time, by cursor
    one = await mine(gql, a, first=1)
    assert amounts(one) == [12000] and one["pageInfo"]["hasNextPage"]
    rest = await mine(gql, a, first=1, after=one["pageInfo"]["endCursor"])
    assert amounts(rest) == [42000] and not rest["pageInfo"]["hasNextPage"]
    # a cursor is a position, not a key to someone else's rows: B with A's cursor sees B's
    assert amounts(await mine(gql, b, after=one["pageInfo"]["endCursor"])) == [24000]

    # staff see only their own entries: none, whatever their grants cover
    for phone in (CLERK, SUPERVISOR, OFFICIAL, INSPECTOR, ADMIN):
        assert (await mine(gql, await gql.login(phone)))["edges"] == [], phone
    assert (await set_number(gql, clerk, ID_CLERK))["idNumberSet"] is True
    assert (await mine(gql, clerk))["edges"] == []
    # signed out: UNAUTHENTICATED, not an empty list
    assert error_codes(await gql(MINE)) == ["UNAUTHENTICATED"]

    # the served tables are as before: masked, the row keys nowhere
    served = (await gql.data(DISCLOSURE, {"id": d["id"]}))["disclosure"]
    assert served["tables"][0]["rows"][0] == ["赵大山", masked(ID_A), "3.5", "42000"]
    assert served["tables"][0]["rows"][3][1] == masked(ROW_NOBODY[1])

    # a correction without A's second row: A sees the first only, of version 2
    fixed = await gql.mutate(
        "correctDisclosure",
        CORRECT,
        {"id": d["id"], "reason": "赵大山第二块地重复登记", "tables": [table(ROW_A1, ROW_B)]},
        token=clerk,
    )
    assert fixed["errors"] == [] and fixed["disclosure"]["version"] == 2
    page = await mine(gql, a)
    assert amounts(page) == [42000] and page["edges"][0]["node"]["version"] == 2
    assert amounts(await mine(gql, b)) == [24000]

    # a list published after A entered the number matches too; a row without a money
    # column has no amount; the item is the disclosure's title when the table has none
    no_money = {
        "title": "",
        "columns": [
            {"key": "name", "label": "户主", "kind": "NAME"},
            {"key": "id", "label": "身份证号", "kind": "ID_NUMBER"},
        ],
        "rows": [["赵大山", ID_A]],
    }
    later = await published(gql, clerk, village, title="危房改造对象公示", tables=[no_money])
    page = await mine(gql, a)
    assert [e["node"]["item"] for e in page["edges"]] == [
        "危房改造对象公示",
        "2026年耕地地力保护补贴发放名单",
    ]
    assert page["edges"][0]["node"]["amountFen"] is None

    # retracted: gone from the list (the record and its versions stay public)
    out = await gql.mutate(
        "retractDisclosure", RETRACT, {"id": d["id"], "reason": "名单有误，另行公示"}, token=clerk
    )
    assert out["errors"] == []
    assert [e["node"]["disclosure"]["id"] for e in (await mine(gql, a))["edges"]] == [later["id"]]
    assert (await mine(gql, b))["edges"] == []

    # forgetting the number empties the list; entering it again brings it back
    assert (await gql.data(CLEAR, token=a))["clearMyIdNumber"] == {
        "idNumberSet": False,
        "errors": [],
    }
    assert (await gql.data(ME, token=a))["me"]["idNumberSet"] is False
    assert (await mine(gql, a))["edges"] == []
    assert (await set_number(gql, a, ID_A))["idNumberSet"] is True
    assert len((await mine(gql, a))["edges"]) == 1


async def test_a_staged_finance_correction_changes_the_list_only_when_approved(gql, demo, settings):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    b = await gql.login(await villager(settings, demo, "13900000011", "钱二"))
    await set_number(gql, b, ID_B)
    d = await draft(
        gql,
        clerk,
        demo.villages[0],
        category="FINANCE",
        catalogueItemId=await item_id("FIN-8"),
        title="2026年养老保险补贴发放公示",
        body="补贴资金已由镇财政所直接拨付到户。",
        tables=[table(ROW_A1, ROW_B, title="养老保险缴费补贴")],
    )
    for name, token in (
        ("SubmitDisclosure", clerk),
        ("ApproveDisclosure", supervisor),
        ("PublishDisclosure", clerk),
    ):
        assert (await step(gql, name, token, id=d["id"]))["errors"] == [], name
    assert [e["node"]["item"] for e in (await mine(gql, b))["edges"]] == ["养老保险缴费补贴"]

    staged = await gql.mutate(
        "correctDisclosure",
        CORRECT,
        {
            "id": d["id"],
            "reason": "钱二已另行领取",
            "tables": [table(ROW_A1, title="养老保险缴费补贴")],
        },
        token=clerk,
    )
    assert staged["errors"] == [] and staged["disclosure"]["version"] == 1
    stored = await StagedCorrection.get(disclosure_id=_pk(d["id"]))
    assert stored.row_keys == [[id_hash(ID_A)]]
    # the public keeps version 1 until a supervisor approves: so does B's list
    assert amounts(await mine(gql, b)) == [24000]
    assert (await step(gql, "ApproveDisclosure", supervisor, id=d["id"]))["errors"] == []
    assert (await mine(gql, b))["edges"] == []
    a = await gql.login(VILLAGER)
    await set_number(gql, a, ID_A)
    page = await mine(gql, a)
    assert amounts(page) == [42000] and page["edges"][0]["node"]["version"] == 2


async def test_setting_a_number_is_checked_claimed_once_and_limited(gql, demo, settings):
    a = await gql.login(VILLAGER)
    b = await gql.login(await villager(settings, demo, "13900000011", "钱二"))

    async def codes(token: str, number: str) -> list[str]:
        return [e["code"] for e in (await set_number(gql, token, number))["errors"]]

    assert await codes(a, wrong_check_digit(ID_A[:17])) == ["INVALID_ID_NUMBER"]
    assert await codes(a, ID_A[:17]) == ["INVALID_ID_NUMBER"]
    assert await codes(a, ID_A + "0" * 100) == ["INVALID_ID_NUMBER"]
    assert await codes(a, ID_A) == []
    # B types A's number: refused, with a way out that does not say whose it is
    payload = await gql.mutate("setMyIdNumber", SET, {"idNumber": ID_A}, token=b, lang="en")
    assert payload["idNumberSet"] is False
    assert payload["errors"] == [
        {
            "code": "ID_NUMBER_TAKEN",
            "field": "idNumber",
            "message": "Another account has already entered this ID number. If it is yours, "
            "take your ID card to the township office",
        }
    ]
    assert (await gql.data(ME, token=b))["me"]["idNumberSet"] is False
    assert (await mine(gql, b))["edges"] == []
    # A's own number again: fine (replacing it with itself)
    assert await codes(a, ID_A) == []
    # five a day, failures included: the sixth is refused whatever it is
    assert await codes(b, ID_B) == []
    assert await codes(b, ID_C) == []
    for _ in range(2):
        assert await codes(b, wrong_check_digit(ID_C[:17])) == ["INVALID_ID_NUMBER"]
    body = await gql(SET, {"input": {"idNumber": ID_B}}, token=b)
    assert error_codes(body) == ["RATE_LIMITED"]
    assert (await User.get(phone="13900000011")).id_number_hash == id_hash(ID_C)

    # an account whose phone is not verified cannot enter one
    registered = await gql.mutate(
        "register",
        REGISTER,
        {
            "phone": "13900000013",
            "password": "麦田里的守望者2026",
            "name": "新来的",
            "villageId": gid("Region", demo.villages[0].id),
        },
    )
    assert registered["errors"] == []
    assert await codes(registered["accessToken"], ID_B) == ["PHONE_NOT_VERIFIED"]
    # signed out: nothing to set
    body = await gql(SET, {"input": {"idNumber": ID_B}})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(CLEAR)) == ["UNAUTHENTICATED"]


def _walk_arguments() -> list[str]:
    """Every argument and input field of the served schema, as Type.field(arg) paths."""
    graphql_schema = schema.graphql_schema
    found: list[str] = []
    seen: set[str] = set()

    def input_fields(kind, path: str) -> None:
        named = get_named_type(kind)
        if not isinstance(named, GraphQLInputObjectType) or named.name in seen:
            return
        seen.add(named.name)
        for name, field in named.fields.items():
            found.append(f"{named.name}.{name}")
            input_fields(field.type, f"{path}.{name}")

    for type_name, kind in graphql_schema.type_map.items():
        for field_name, field in getattr(kind, "fields", {}).items():
            for arg_name, arg in getattr(field, "args", {}).items():
                found.append(f"{type_name}.{field_name}({arg_name})")
                input_fields(arg.type, f"{type_name}.{field_name}({arg_name})")
    return found


async def test_no_field_takes_an_id_number_but_setting_ones_own():
    suspicious = ("idnumber", "idcard", "idno", "shenfen", "sfz", "citizen", "idhash", "rowkey")

    def looks_like(path: str) -> bool:
        name = path.rsplit(".", 1)[-1].rsplit("(", 1)[-1].rstrip(")")
        return any(s in name.lower().replace("_", "") for s in suspicious)

    assert [p for p in _walk_arguments() if looks_like(p)] == ["SetMyIdNumberInput.idNumber"]
    # and no output field gives one back: `idNumberSet` is a yes or no
    outputs = [
        f"{name}.{field}"
        for name, kind in schema.graphql_schema.type_map.items()
        if not isinstance(kind, GraphQLInputObjectType) and not name.startswith("__")
        for field in getattr(kind, "fields", {})
        if looks_like(field)
    ]
    assert sorted(outputs) == [
        "ClearMyIdNumberPayload.idNumberSet",
        "Mutation.clearMyIdNumber",
        "Mutation.setMyIdNumber",
        "SetMyIdNumberPayload.idNumberSet",
        "User.idNumberSet",
    ]


async def raw_database_text() -> dict[str, str]:
    """Every table's rows as text, read past the ORM: what someone with the database sees."""
    conn = Tortoise.get_connection("default")
    if conn.capabilities.dialect == "postgres":
        names = [
            r["tablename"]
            for r in await conn.execute_query_dict(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        ]
    else:
        names = [
            r["name"]
            for r in await conn.execute_query_dict(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        ]
    out = {}
    for name in names:
        rows = await conn.execute_query_dict(f'SELECT * FROM "{name}"')
        out[name] = json.dumps(rows, default=str, ensure_ascii=False)
    return out


async def test_neither_the_number_nor_its_hash_leaves_the_server(gql, demo, settings):
    """The hostile villager, the curious admin and someone with the database, in turn."""
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    d = await published(gql, clerk, village, title="补贴发放公示", tables=[LIST])
    a = await gql.login(VILLAGER)
    b = await gql.login(await villager(settings, demo, "13900000011", "钱二"))
    assert (await set_number(gql, a, ID_A))["errors"] == []
    assert (await set_number(gql, b, ID_A))["errors"][0]["code"] == "ID_NUMBER_TAKEN"
    await gql.mutate(
        "correctDisclosure",
        CORRECT,
        {"id": d["id"], "reason": "补录", "tables": [table(ROW_A1, ROW_B, ROW_A2)]},
        token=clerk,
    )
    assert await run_jobs("fanout_disclosure") >= 1  # notifications of both versions
    hash_a, hash_b = id_hash(ID_A), id_hash(ID_B)
    secrets = (ID_A, ID_B, hash_a, hash_b, ID_A[6:14] + ID_A[14:])

    responses: list[str] = []

    async def ask(query: str, variables: dict | None = None, token: str | None = None) -> dict:
        body = await gql(query, variables, token=token)
        responses.append(json.dumps(body, ensure_ascii=False))
        return body

    admin, inspector = await gql.login(ADMIN), await gql.login(INSPECTOR)
    official = await gql.login(OFFICIAL)
    a_user = await User.get(phone=VILLAGER)
    a_id = gid("User", a_user.id)
    # the hostile villager: another's rows, whether they entered a number, their node
    assert amounts((await ask(MINE, token=b))["data"]["mySubsidies"]) == []
    await ask("query($id: ID!) { node(id: $id) { ... on User { idNumberSet } } }", {"id": a_id}, b)
    # the curious staff: residents' idNumberSet, the user node, the audit log
    residents = await ask(
        "query($v: ID!) { residents(villageId: $v) { edges { node { id name idNumberSet } } } }",
        {"v": gid("Region", village.id)},
        official,
    )
    nodes = [e["node"] for e in residents["data"]["residents"]["edges"]]
    assert nodes and all(n["idNumberSet"] is None for n in nodes)
    for token in (admin, official, clerk):
        body = await ask(
            "query($id: ID!) { node(id: $id) { ... on User { id idNumberSet } } }",
            {"id": a_id},
            token,
        )
        node = (body.get("data") or {}).get("node")
        assert node is None or node["idNumberSet"] is None
    for token in (admin, inspector):
        log = await ask(
            """query($r: ID!) { auditLog(regionId: $r, action: "user.id_number_set", first: 50) { edges { node {
              action objectType objectId before after actor { id } } } } }""",
            {"r": gid("Region", demo.county.id)},
            token,
        )
        entries = [e["node"] for e in log["data"]["auditLog"]["edges"]]
        # who entered a number is recorded (not the number, not its hash); a refused try
        # changed nothing and left no entry
        assert [(e["objectType"], e["after"]) for e in entries] == [("User", {"replaced": False})]
    await ask("{ jobs(first: 50) { edges { node { kind status lastError } } } }", token=admin)
    await ask("{ deliveries(first: 50) { edges { node { id template } } } }", token=admin)
    await ask("{ notifications(first: 50) { edges { node { id kind text } } } }", token=a)
    await ask(DISCLOSURE, {"id": d["id"]}, clerk)
    await ask(
        """query($r: ID!) { disclosures(regionId: $r) { edges { node { id title body
          tables { rows } } } } }""",
        {"r": gid("Region", village.id)},
    )
    await ask(
        "query($s: String) { disclosures(search: $s) { edges { node { id } } } }", {"s": ID_A[:6]}
    )
    await ask("{ me { id name phone idNumberSet } }", token=a)
    for text in responses:
        for secret in secrets:
            assert secret not in text, (secret, text[:300])

    # the ledger export (what a public verifier recomputes): no row keys, masked tables
    region = await Region.get(id=village.id)
    exported = json.dumps(await export_entries(region), default=str, ensure_ascii=False)
    assert masked(ID_A) in exported
    for secret in secrets:
        assert secret not in exported

    # someone with the database: hashes in four places only, the number nowhere
    tables = await raw_database_text()
    for name, text in tables.items():
        assert ID_A not in text and ID_B not in text, name
        if name not in ("user", "disclosure", "subsidy_entry", "staged_correction"):
            assert hash_a not in text and hash_b not in text, name
    assert hash_a in tables["user"] and hash_a in tables["subsidy_entry"]
    assert await SubsidyEntry.filter(id_hash=hash_a).count() == 4  # two rows in each version
    assert (await Disclosure.get(id=_pk(d["id"]))).row_keys == [[hash_a, hash_b, hash_a]]
    # ... and without the key, a hash is not the hash of the number: it was keyed
    assert hashlib.sha256(ID_A.encode()).hexdigest() != hash_a


def test_the_key_is_derived_apart_from_the_secret_unless_set(tmp_path):
    env = {"SECRET_KEY": "s" * 40, "DATA_DIR": str(tmp_path)}
    assert Settings.from_env(env).id_key == derive_key("s" * 40) != "s" * 40
    assert Settings.from_env(env | {"ID_NUMBER_KEY": "k" * 40}).id_key == "k" * 40
    try:
        Settings.from_env(env | {"ID_NUMBER_KEY": "short"})
    except Exception as exc:  # noqa: BLE001
        assert "ID_NUMBER_KEY" in str(exc)
    else:
        raise AssertionError("a short ID_NUMBER_KEY was accepted")


async def test_nobody_probes_by_number_through_drafts_search_or_arguments(gql, demo, settings):
    """A clerk who types a number into a draft learns nothing of who holds it; a villager
    cannot pass a number to any query; search does not find a row by its number."""
    clerk = await gql.login(CLERK)
    a = await gql.login(VILLAGER)
    await set_number(gql, a, ID_A)
    d = await draft(gql, clerk, demo.villages[0], title="补贴名单（草稿）", tables=[LIST])
    assert await SubsidyEntry.all().count() == 0  # a draft names no one
    assert (await mine(gql, a))["edges"] == []
    # scheduled: still nobody, until it is published by the scheduler
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    out = await step(gql, "PublishDisclosure", clerk, id=d["id"], publishAt=later)
    assert out["errors"] == [] and out["disclosure"]["status"] == "SCHEDULED"
    assert (await mine(gql, a))["edges"] == []
    assert await publish_due(datetime.now(UTC) + timedelta(hours=3)) == 1
    assert amounts(await mine(gql, a)) == [12000, 42000]
    # the clerk (or anyone) searching the published list by the number finds nothing
    found = await gql.data(
        "query($s: String) { disclosures(search: $s) { edges { node { id } } } }", {"s": ID_A}
    )
    assert found["disclosures"]["edges"] == []
    # no query takes a number: the schema refuses the argument outright
    for query in (
        f'{{ mySubsidies(idNumber: "{ID_A}") {{ edges {{ cursor }} }} }}',
        f'{{ me {{ idNumberSet(idNumber: "{ID_A}") }} }}',
    ):
        body = await gql(query, token=clerk)
        assert body.get("data") is None and error_codes(body) == ["BAD_USER_INPUT"]
    # only the operators' script asks by number: to free one for its owner, seen in person
    b = await gql.login(await villager(settings, demo, "13900000011", "钱二"))
    assert (await set_number(gql, b, ID_A))["errors"][0]["code"] == "ID_NUMBER_TAKEN"
    a_user = await User.get(phone=VILLAGER)
    with pytest.raises(Forbidden):
        await release_id_number(await viewer_for_user(a_user, "test"), ID_A)
    assert await release_id_number(Viewer.for_system("script:release_id_number"), ID_A)
    assert not await release_id_number(Viewer.for_system("script:release_id_number"), ID_B)
    assert (await gql.data(ME, token=a))["me"]["idNumberSet"] is False
    assert (await set_number(gql, b, ID_A))["errors"] == []
    assert amounts(await mine(gql, b)) == [12000, 42000]
    entry = await AuditEntry.get(action="user.id_number_release")
    assert entry.object_id == str(a_user.id) and entry.after is None
