"""graphql-core's own messages (syntax, validation, variable values) in Chinese.

graphql-core 3.2 words them in English only. Each template below is the English wording
with its parts marked, anchored on the whole message; the Chinese keeps the names it
quotes. A "Did you mean …?" tail is translated apart. A message no template matches stays
in English (never an error). tests/test_graphql_messages.py provokes every template over
HTTP, so an upgrade that rewords one fails there.

Marks: `{x}` a quoted name ('…'), `{x:text}` any text kept as is, `{x:msg}` a nested
message (translated in turn), `{x:token}` a token as the parser describes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.messages import EN

TEMPLATES: dict[str, tuple[str, str]] = {
    # name: (graphql-core's English, Chinese)
    # --- syntax (graphql/language/lexer.py, parser.py) ---
    "syntax": ("Syntax Error: {d:msg}", "语法错误：{d}"),
    "unexpected": ("Unexpected {t:token}.", "此处不应出现{t}。"),
    "expected": ("Expected {k:token}, found {t:token}.", "此处应为{k}，实际是{t}。"),
    "unexpected_character": ("Unexpected character: {c:text}.", "无法识别的字符：{c}。"),
    "single_quote": (
        "Unexpected single quote character ('), did you mean to use a double quote (\")?",
        "字符串须用双引号（\"），不能用单引号（'）。",
    ),
    "unterminated_string": ("Unterminated string.", "字符串缺少结尾的双引号。"),
    "digit_after_zero": (
        "Invalid number, unexpected digit after 0: {c:text}.",
        "数字格式错误：0 后面不能紧跟数字 {c}。",
    ),
    "expected_digit": (
        "Invalid number, expected digit but got: {c:text}.",
        "数字格式错误：此处应为数字，实际是 {c}。",
    ),
    "bad_escape": ("Invalid character escape sequence: {s:text}.", "无效的转义序列：{s}。"),
    "bad_unicode_escape": (
        "Invalid Unicode escape sequence: {s:text}.",
        "无效的 Unicode 转义序列：{s}。",
    ),
    "variable_in_constant": (
        "Unexpected variable {v} in constant value.",
        "默认值中不能使用变量 {v}。",
    ),
    # --- validation (graphql/validation/rules/*.py) ---
    "not_executable": (
        "The {d:text} definition is not executable.",
        "{d} 定义不能执行（请求中只能有操作和片段）。",
    ),
    "unknown_field": ("Cannot query field {f} on type {t}.", "类型 {t} 上没有字段 {f}。"),
    "unknown_argument": (
        "Unknown argument {a} on field {f}.",
        "字段 {f} 没有参数 {a}。",
    ),
    "unknown_directive_argument": (
        "Unknown argument {a} on directive {d}.",
        "指令 {d} 没有参数 {a}。",
    ),
    "missing_argument": (
        "Field {f} argument {a} of type {t} is required, but it was not provided.",
        "字段 {f} 缺少必填参数 {a}（类型 {t}）。",
    ),
    "missing_directive_argument": (
        "Directive {d} argument {a} of type {t} is required, but it was not provided.",
        "指令 {d} 缺少必填参数 {a}（类型 {t}）。",
    ),
    "needs_subfields": (
        "Field {f} of type {t} must have a selection of subfields.",
        "字段 {f} 的类型是 {t}，须选择它的子字段。",
    ),
    "no_subfields": (
        "Field {f} must not have a selection since type {t} has no subfields.",
        "字段 {f} 的类型 {t} 没有子字段，不能再选择。",
    ),
    "unknown_enum_value": ("Value {v} does not exist in {t} enum.", "枚举 {t} 中没有值 {v}。"),
    "enum_not_enum": (
        "Enum {t} cannot represent non-enum value: {v:text}.",
        "枚举 {t} 的值不能写成 {v}（不加引号）。",
    ),
    "enum_not_string": (
        "Enum {t} cannot represent non-string value: {v:text}.",
        "枚举 {t} 的值须为字符串，不能是 {v}。",
    ),
    "unknown_fragment": ("Unknown fragment {f}.", "未定义的片段 {f}。"),
    "unknown_type": ("Unknown type {t}.", "未知的类型 {t}。"),
    "unknown_directive": ("Unknown directive {d}.", "未知的指令 {d}。"),
    "misplaced_directive": (
        "Directive {d} may not be used on {l:text}.",
        "指令 {d} 不能用在 {l} 上。",
    ),
    "repeated_directive": (
        "The directive {d} can only be used once at this location.",
        "指令 {d} 在此处只能使用一次。",
    ),
    "unused_fragment": ("Fragment {f} is never used.", "片段 {f} 没有被使用。"),
    "unused_variable_in": (
        "Variable {v} is never used in operation {o}.",
        "变量 {v} 在操作 {o} 中没有被使用。",
    ),
    "unused_variable": ("Variable {v} is never used.", "变量 {v} 没有被使用。"),
    "undefined_variable_in": (
        "Variable {v} is not defined by operation {o}.",
        "操作 {o} 没有定义变量 {v}。",
    ),
    "undefined_variable": ("Variable {v} is not defined.", "变量 {v} 没有定义。"),
    "variable_type_mismatch": (
        "Variable {v} of type {t} used in position expecting type {e}.",
        "变量 {v} 的类型 {t} 与此处要求的类型 {e} 不符。",
    ),
    "variable_not_input": (
        "Variable {v} cannot be non-input type {t}.",
        "变量 {v} 不能使用非输入类型 {t}。",
    ),
    "duplicate_operation": (
        "There can be only one operation named {o}.",
        "只能有一个名为 {o} 的操作。",
    ),
    "duplicate_argument": ("There can be only one argument named {a}.", "参数 {a} 只能给一次。"),
    "duplicate_variable": ("There can be only one variable named {v}.", "变量 {v} 只能定义一次。"),
    "duplicate_fragment": (
        "There can be only one fragment named {f}.",
        "片段 {f} 只能定义一次。",
    ),
    "duplicate_input_field": (
        "There can be only one input field named {f}.",
        "输入字段 {f} 只能给一次。",
    ),
    "lone_anonymous": (
        "This anonymous operation must be the only defined operation.",
        "没有名字的操作必须是请求中唯一的操作。",
    ),
    "field_conflict": (
        "Fields {r} conflict because {w:msg}. "
        "Use different aliases on the fields to fetch both if this was intentional.",
        "字段 {r} 相互冲突：{w}。如需同时获取，请给它们不同的别名。",
    ),
    "conflict_different_fields": ("{a} and {b} are different fields", "{a} 和 {b} 是不同的字段"),
    "conflict_arguments": ("they have differing arguments", "它们的参数不同"),
    "fragment_cycle_via": (
        "Cannot spread fragment {f} within itself via {p:text}.",
        "片段 {f} 不能（经由 {p}）展开自身。",
    ),
    "fragment_cycle": ("Cannot spread fragment {f} within itself.", "片段 {f} 不能展开自身。"),
    "impossible_spread": (
        "Fragment {f} cannot be spread here as objects of type {p} can never be of type {t}.",
        "片段 {f} 不能在此展开：类型 {p} 的对象不可能是类型 {t}。",
    ),
    "impossible_inline_spread": (
        "Fragment cannot be spread here as objects of type {p} can never be of type {t}.",
        "此处不能展开该片段：类型 {p} 的对象不可能是类型 {t}。",
    ),
    "fragment_on_leaf": (
        "Fragment {f} cannot condition on non composite type {t}.",
        "片段 {f} 不能以非对象类型 {t} 为条件。",
    ),
    "inline_fragment_on_leaf": (
        "Fragment cannot condition on non composite type {t}.",
        "片段不能以非对象类型 {t} 为条件。",
    ),
    "missing_input_field": (
        "Field {f} of required type {t} was not provided.",
        "缺少必填字段 {f}（类型 {t}）。",
    ),
    "unknown_input_field": (
        "Field {f} is not defined by type {t}.",
        "类型 {t} 没有字段 {f}。",
    ),
    "wrong_literal": (
        "Expected value of type {t}, found {v:text}; {m:msg}",
        "此处应为 {t} 类型的值，实际是 {v}：{m}",
    ),
    "wrong_literal_plain": (
        "Expected value of type {t}, found {v:text}.",
        "此处应为 {t} 类型的值，实际是 {v}。",
    ),
    # --- variable values (graphql/execution/values.py, utilities/coerce_input_value.py) ---
    "invalid_variable_at": (
        "Variable {v} got invalid value {x:text} at {p}; {m:msg}",
        "变量 {v} 在 {p} 处的值 {x} 无效：{m}",
    ),
    "invalid_variable": (
        "Variable {v} got invalid value {x:text}; {m:msg}",
        "变量 {v} 的值 {x} 无效：{m}",
    ),
    "missing_variable": (
        "Variable {v} of required type {t} was not provided.",
        "缺少必填变量 {v}（类型 {t}）。",
    ),
    "null_variable": (
        "Variable {v} of non-null type {t} must not be null.",
        "变量 {v}（类型 {t}）不能为 null。",
    ),
    "not_a_mapping": (
        "Expected type {t} to be a mapping.",
        "类型 {t} 的值须为对象（{{…}}）。",
    ),
    "null_for_non_null": (
        "Expected non-nullable type {t} not to be None.",
        "类型 {t} 的值不能为 null。",
    ),
    "expected_type_because": ("Expected type {t}. {m:msg}", "此处应为 {t} 类型：{m}"),
    # --- scalars (graphql/type/scalars.py, graphene's Date and DateTime, api/uploads.py) ---
    "upload_literal": (
        "Upload values come from multipart files, not literals",
        "文件须作为 multipart 请求的文件部分上传，不能写在查询里",
    ),
    "upload_not_a_file": (
        "Upload must be a file part of a multipart request",
        "文件须作为 multipart 请求的文件部分上传",
    ),
    "int_not_integer": (
        "Int cannot represent non-integer value: {v:text}",
        "Int 须为整数，不能是 {v}",
    ),
    "int_out_of_range": (
        "Int cannot represent non 32-bit signed integer value: {v:text}",
        "Int 超出范围（−2147483648 到 2147483647）：{v}",
    ),
    "string_not_string": (
        "String cannot represent a non string value: {v:text}",
        "String 须为字符串，不能是 {v}",
    ),
    "boolean_not_boolean": (
        "Boolean cannot represent a non boolean value: {v:text}",
        "Boolean 须为 true 或 false，不能是 {v}",
    ),
    "id_value": ("ID cannot represent value: {v:text}", "ID 须为字符串或整数，不能是 {v}"),
    "id_literal": (
        "ID cannot represent a non-string and non-integer value: {v:text}",
        "ID 须为字符串或整数，不能是 {v}",
    ),
    "date_value": (
        "Date cannot represent value: {v:text}",
        "Date 须为日期（如 2026-03-05），不能是 {v}",
    ),
    "datetime_value": (
        "DateTime cannot represent value: {v:text}",
        "DateTime 须为 ISO 8601 时间（如 2026-03-05T08:00:00+08:00），不能是 {v}",
    ),
}

SUGGESTION = re.compile(
    r" Did you mean (?P<enum>the enum value )?"
    r"(?P<names>'[^']*'(?:, '[^']*')*(?:,? or '[^']*')?)\?\Z"
)
TOKEN_KINDS = {
    "<EOF>": "请求结尾",
    "Name": "名称",
    "Int": "整数",
    "Float": "小数",
    "String": "字符串",
    "BlockString": "块字符串",
}
MARK = re.compile(r"\{(\w+)(?::(\w+))?\}")
# a token: <EOF>, a quoted punctuator, or a kind with its value ("Name 'foo'")
TOKEN = r"<\w+>|'[^']*'|[A-Z]\w*(?: '.*?')?"
KINDS = {None: r"'.*?'", "text": r".*?", "msg": r".+", "token": TOKEN}


@dataclass(frozen=True)
class Template:
    name: str
    pattern: re.Pattern[str]
    zh: str
    kinds: dict[str, str | None]


def _compile(name: str, english: str, zh: str) -> Template:
    parts, kinds, at = [], {}, 0
    for mark in MARK.finditer(english):
        parts.append(re.escape(english[at : mark.start()]))
        key, kind = mark.group(1), mark.group(2)
        kinds[key] = kind
        parts.append(f"(?P<{key}>{KINDS[kind]})")
        at = mark.end()
    parts.append(re.escape(english[at:]))
    return Template(name, re.compile("".join(parts), re.DOTALL), zh, kinds)


COMPILED = [_compile(name, en, zh) for name, (en, zh) in TEMPLATES.items()]


def graphql_message(message: str, lang: str) -> str:
    """`message` (graphql-core's) in `lang`: English as it is, else Chinese where known."""
    if lang == EN:
        return message
    return _translate(message, [])


def templates_used(message: str) -> list[str]:
    """The names of the templates that translate `message`, outermost first (for tests)."""
    used: list[str] = []
    _translate(message, used)
    return used


def _translate(message: str, used: list[str]) -> str:
    tail = ""
    suggestion = SUGGESTION.search(message)
    if suggestion:
        message, tail = message[: suggestion.start()], _suggestion(suggestion)
    for template in COMPILED:
        match = template.pattern.fullmatch(message)
        if match is None:
            continue
        used.append(template.name)
        values = {}
        for key, kind in template.kinds.items():
            value = match.group(key)
            if kind == "msg":
                value = _translate(value, used)
            elif kind == "token":
                value = _token(value)
            values[key] = value
        return template.zh.format(**values) + tail
    return message + (suggestion.group(0) if suggestion else "")


def _suggestion(match: re.Match[str]) -> str:
    names = re.findall(r"'[^']*'", match.group("names"))
    listed = names[0] if len(names) == 1 else "、".join(names[:-1]) + " 或 " + names[-1]
    return f"您是否想用{'枚举值' if match.group('enum') else ''} {listed}？"


def _token(description: str) -> str:
    """ "Name 'foo'" → "名称 'foo'", "<EOF>" → "请求结尾"; punctuation stays quoted."""
    kind, _, value = description.partition(" ")
    name = TOKEN_KINDS.get(kind)
    if name is None:
        return description
    return f"{name} {value}" if value else name
