"""graphql-core's syntax, validation and variable messages answered in Chinese (English on
request), each provoked over HTTP: a graphql-core upgrade that rewords one fails here."""

from __future__ import annotations

from typing import Any

from api.graphql_messages import TEMPLATES, graphql_message, templates_used

LOGIN = "mutation M($i: LoginInput!) { login(input: $i) { accessToken } }"
UPLOAD = "mutation M($f: Upload!) { uploadMedia(input: {file: $f, purpose: EVIDENCE}) { errors { code } } }"
FLAGS = 'query Q($s: FlagStatus) { flags(regionId: "1", status: $s) { edges { cursor } } }'

# (query, variables, the templates its first error uses, its Chinese message or None)
CASES: list[tuple[str, dict[str, Any] | None, list[str], str | None]] = [
    # syntax
    ("{ holidays(year: 2026) { name }", None, ["syntax", "expected"], "语法错误：此处应为名称，实际是请求结尾。"),
    ("{ holidays(year: 2026) { name } } }", None, ["syntax", "unexpected"], "语法错误：此处不应出现'}'。"),
    ("{ holidays(year: 1) { name } } ?", None, ["syntax", "unexpected_character"], None),
    ("{ holidays(year: 'x') { name } }", None, ["syntax", "single_quote"], None),
    ('{ holidays(year: "x) { name } }', None, ["syntax", "unterminated_string"], None),
    ("{ holidays(year: 01) { name } }", None, ["syntax", "digit_after_zero"], None),
    ("{ holidays(year: 1.x) { name } }", None, ["syntax", "expected_digit"], None),
    ('{ holidays(year: "\\q") { name } }', None, ["syntax", "bad_escape"], None),
    ('{ holidays(year: "\\u12") { name } }', None, ["syntax", "bad_unicode_escape"], None),
    ("query Q($a: Int = $b) { holidays(year: $a) { name } }", None, ["syntax", "variable_in_constant"], None),
    ("fragment F Query { __typename } { ...F }", None, ["syntax", "expected"], "语法错误：此处应为'on'，实际是名称 'Query'。"),
    # validation
    ("type Foo { a: Int } { holidays(year: 1) { name } }", None, ["not_executable"], None),
    ("{ holidays(year: 2026) { nme } }", None, ["unknown_field"], "类型 'Holiday' 上没有字段 'nme'。您是否想用 'name'？"),
    ('{ flags(regionId: "1", statu: OPEN) { edges { cursor } } }', None, ["unknown_argument"], "字段 'Query.flags' 没有参数 'statu'。您是否想用 'status'？"),
    ("{ holidays(year: 1) @skip(iff: true) { name } }", None, ["unknown_directive_argument"], None),
    ("{ holidays { name } }", None, ["missing_argument"], "字段 'holidays' 缺少必填参数 'year'（类型 'Int!'）。"),
    ("{ holidays(year: 1) @skip { name } }", None, ["missing_directive_argument"], None),
    ("{ holidays(year: 2026) }", None, ["needs_subfields"], "字段 'holidays' 的类型是 '[Holiday!]!'，须选择它的子字段。您是否想用 'holidays { ... }'？"),
    ("{ holidays(year: 1) { name { x } } }", None, ["no_subfields"], None),
    ('{ flags(regionId: "1", status: RESOLVD) { edges { cursor } } }', None, ["unknown_enum_value"], "枚举 'FlagStatus' 中没有值 'RESOLVD'。您是否想用枚举值 'RESOLVED'？"),
    ('{ flags(regionId: "1", status: "RESOLVED") { edges { cursor } } }', None, ["enum_not_enum"], None),
    ("{ holidays(year: 1) { ...F } }", None, ["unknown_fragment"], "未定义的片段 'F'。"),
    ("query Q($y: Nope) { holidays(year: $y) { name } }", None, ["unknown_type"], None),
    ("{ holidays(year: 1) @foo { name } }", None, ["unknown_directive"], None),
    ("{ holidays(year: 1) @deprecated { name } }", None, ["misplaced_directive"], None),
    ("{ holidays(year: 1) @skip(if: false) @skip(if: false) { name } }", None, ["repeated_directive"], None),
    ("fragment F on Query { __typename } { holidays(year: 1) { name } }", None, ["unused_fragment"], None),
    ("query Q($y: Int) { holidays(year: 1) { name } }", None, ["unused_variable_in"], None),
    ("query ($y: Int) { holidays(year: 1) { name } }", None, ["unused_variable"], None),
    ("query Q { holidays(year: $z) { name } }", None, ["undefined_variable_in"], None),
    ("{ holidays(year: $z) { name } }", None, ["undefined_variable"], "变量 '$z' 没有定义。"),
    ("query Q($s: String) { flags(regionId: \"1\", status: $s) { edges { cursor } } }", None, ["variable_type_mismatch"], None),
    ("query Q($h: Holiday) { holidays(year: 1) { name } }", None, ["variable_not_input"], None),
    ("query A { me { id } } query A { me { id } }", None, ["duplicate_operation"], None),
    ("{ holidays(year: 1, year: 2) { name } }", None, ["duplicate_argument"], None),
    ("query Q($y: Int!, $y: Int!) { holidays(year: $y) { name } }", None, ["duplicate_variable"], None),
    ("fragment F on Query { me { id } } fragment F on Query { me { id } } { ...F }", None, ["duplicate_fragment"], None),
    ('mutation { login(input: {phone: "1", phone: "2", password: "x"}) { accessToken } }', None, ["duplicate_input_field"], None),
    ("{ me { id } } { me { id } }", None, ["lone_anonymous"], None),
    ("{ holidays(year: 1) { name name: day } }", None, ["field_conflict", "conflict_different_fields"], "字段 'name' 相互冲突：'name' 和 'day' 是不同的字段。如需同时获取，请给它们不同的别名。"),
    ("{ holidays(year: 1) { name } holidays(year: 2) { name } }", None, ["field_conflict", "conflict_arguments"], None),
    ("fragment A on Query { ...B } fragment B on Query { ...A } { ...A }", None, ["fragment_cycle_via"], None),
    ("fragment A on Query { ...A } { ...A }", None, ["fragment_cycle"], None),
    ("fragment F on Region { id } { holidays(year: 1) { ...F } }", None, ["impossible_spread"], None),
    ("{ holidays(year: 1) { ... on Region { id } } }", None, ["impossible_inline_spread"], None),
    ("fragment F on String { a } { ...F }", None, ["fragment_on_leaf"], None),
    ("{ ... on String { a } }", None, ["inline_fragment_on_leaf"], None),
    ('mutation { login(input: {phone: "1"}) { accessToken } }', None, ["missing_input_field"], "缺少必填字段 'LoginInput.password'（类型 'String!'）。"),
    ('mutation { login(input: {phone: "1", password: "x", pasword: "y"}) { accessToken } }', None, ["unknown_input_field"], None),
    ('mutation { uploadMedia(input: {file: "x", purpose: EVIDENCE}) { errors { code } } }', None, ["wrong_literal", "upload_literal"], None),
    ('mutation { login(input: "x") { accessToken } }', None, ["wrong_literal_plain"], None),
    ('{ holidays(year: "x") { name } }', None, ["int_not_integer"], 'Int 须为整数，不能是 "x"'),
    ("{ holidays(year: 99999999999) { name } }", None, ["int_out_of_range"], None),
    ('{ auditLog(regionId: "1", action: 5) { edges { cursor } } }', None, ["string_not_string"], None),
    ('{ flags(regionId: "1", overdue: 5) { edges { cursor } } }', None, ["boolean_not_boolean"], None),
    ("{ flag(id: 1.5) { id } }", None, ["id_literal"], None),
    ('{ supervisionStats(regionId: "1", from: "x", to: "x") { edges { cursor } } }', None, ["date_value"], None),
    ('{ disclosures(updatedSince: "x") { edges { cursor } } }', None, ["datetime_value"], None),
    # variable values
    ("query Q($y: Int!) { holidays(year: $y) { name } }", {"y": "x"}, ["invalid_variable", "int_not_integer"], "变量 '$y' 的值 'x' 无效：Int 须为整数，不能是 'x'"),
    (LOGIN, {"i": {"phone": 5, "password": "x"}}, ["invalid_variable_at", "string_not_string"], "变量 '$i' 在 'i.phone' 处的值 5 无效：String 须为字符串，不能是 5"),
    ("query Q($y: Int!) { holidays(year: $y) { name } }", {}, ["missing_variable"], "缺少必填变量 '$y'（类型 'Int!'）。"),
    ("query Q($y: Int!) { holidays(year: $y) { name } }", {"y": None}, ["null_variable"], None),
    (LOGIN, {"i": "x"}, ["invalid_variable", "not_a_mapping"], "变量 '$i' 的值 'x' 无效：类型 'LoginInput' 的值须为对象（{…}）。"),
    (LOGIN, {"i": {"phone": None, "password": "x"}}, ["invalid_variable_at", "null_for_non_null"], None),
    (LOGIN, {"i": {"phone": "1"}}, ["invalid_variable", "missing_input_field"], None),
    (LOGIN, {"i": {"phone": "1", "password": "x", "pasword": 1}}, ["invalid_variable", "unknown_input_field"], None),
    (UPLOAD, {"f": "x"}, ["invalid_variable", "expected_type_because", "upload_not_a_file"], None),
    (FLAGS, {"s": "OPN"}, ["invalid_variable", "unknown_enum_value"], None),
    (FLAGS, {"s": 5}, ["invalid_variable", "enum_not_string"], None),
    ('query Q($d: ID!) { flag(id: $d) { id } }', {"d": 1.5}, ["invalid_variable", "id_value"], None),
    ('query Q($b: Boolean) { flags(regionId: "1", overdue: $b) { edges { cursor } } }', {"b": "x"}, ["invalid_variable", "boolean_not_boolean"], None),
]  # fmt: skip


async def ask(client, query, variables, lang=None) -> dict[str, Any]:
    headers = {"Accept-Language": lang} if lang else {}
    body = {"query": query, "variables": variables or {}}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"]
    errors = response.json()["errors"]
    assert errors and all(e["extensions"]["code"] == "BAD_USER_INPUT" for e in errors), errors
    return errors[0]


async def test_every_template_matches_what_graphql_core_says_and_is_answered_in_chinese(client):
    used: set[str] = set()
    for query, variables, names, expected in CASES:
        english = (await ask(client, query, variables, "en"))["message"]
        chinese = (await ask(client, query, variables))["message"]
        assert templates_used(english) == names, (query, english)
        assert chinese == graphql_message(english, "zh") != english, (query, chinese)
        assert "Did you mean" not in chinese and "Syntax Error" not in chinese, chinese
        if expected is not None:
            assert chinese == expected, (query, chinese)
        used.update(names)
    # no template lingers that graphql-core no longer says
    assert used == set(TEMPLATES), set(TEMPLATES) - used


async def test_english_stays_graphql_cores_own_words(client):
    error = await ask(client, "{ holidays(year: 2026) { nme } }", None, "en")
    assert error["message"] == "Cannot query field 'nme' on type 'Holiday'. Did you mean 'name'?"
    assert error["locations"] == [{"line": 1, "column": 26}]
    preferred = await ask(client, "{ nope }", None, "en-GB,zh;q=0.5")
    assert preferred["message"].startswith("Cannot query field 'nope'")


async def test_several_suggestions_and_an_unknown_wording():
    message = "Unknown type 'Nope'. Did you mean 'Node', 'Role', or 'Region'?"
    assert (
        graphql_message(message, "zh")
        == "未知的类型 'Nope'。您是否想用 'Node'、'Role' 或 'Region'？"
    )
    # a message no template knows stays as graphql-core wrote it, suggestion and all
    novel = "Something graphql-core may say one day. Did you mean 'x'?"
    assert graphql_message(novel, "zh") == novel
    assert templates_used(novel) == []
