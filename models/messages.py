"""User-facing messages in zh-CN (default) and English: one text pair per code or key."""

from __future__ import annotations

ZH = "zh"
EN = "en"

MESSAGES: dict[str, tuple[str, str]] = {
    # top-level error codes
    "UNAUTHENTICATED": ("请先登录", "Please sign in"),
    # UNAUTHENTICATED by its reason (models.errors.AuthReason)
    "AUTH_LOGIN_REQUIRED": ("请先登录", "Please sign in"),
    "AUTH_TOKEN_EXPIRED": (
        "登录已过期，请刷新令牌或重新登录",
        "Your session has expired; refresh or sign in again",
    ),
    "AUTH_TOKEN_INVALID": ("登录凭证无效，请重新登录", "Invalid access token; sign in again"),
    "AUTH_TOKEN_REVOKED": (
        "该登录已失效（已退出登录或密码已修改），请重新登录",
        "This session has ended (signed out or password changed); sign in again",
    ),
    "AUTH_ACCOUNT_DISABLED": ("该账号已停用", "This account is disabled"),
    "TOKEN_EXPIRED": (
        "登录已过期，请刷新令牌或重新登录",
        "Your session has expired; refresh or sign in again",
    ),
    "INVALID_TOKEN": ("无效的令牌", "Invalid token"),
    "FORBIDDEN": ("您没有权限执行此操作", "You are not allowed to do this"),
    # FORBIDDEN by its reason (models.policy.ForbiddenReason)
    "FORBIDDEN_NO_PERMISSION": ("您没有权限执行此操作", "You are not allowed to do this"),
    "FORBIDDEN_OUTSIDE_REGION": (
        "没有该地区的权限：您的职务不管辖这里",
        "Your role does not cover this region",
    ),
    "FORBIDDEN_NATIONAL_ONLY": (
        "这项内容涉及所有地区（全国通用的设置、任务队列），只有全系统的管理员可以查看或修改",
        "This concerns every region (national settings, the job queue): only a system-wide "
        "administrator may see or change it",
    ),
    "FORBIDDEN_PRICE_RECORDERS_ONLY": (
        "只有乡镇干部或管理员可以设立市场、录入市场价格",
        "Only township officials or administrators set up markets and record market prices",
    ),
    "FORBIDDEN_ADMIN_ONLY": ("只有管理员可以这样做", "Only an administrator can do this"),
    "FORBIDDEN_STAFF_ONLY": (
        "只有村干部和乡镇、县里的工作人员可以这样做",
        "Only village, township and county staff can do this",
    ),
    "FORBIDDEN_EDITORS_ONLY": (
        "只有村文书、乡镇干部或管理员可以编写公开事项",
        "Only the village clerk, township officials or administrators write disclosures",
    ),
    "FORBIDDEN_SUPERVISION_COMMITTEE_ONLY": (
        "需要村务监督委员会审核",
        "This needs the approval of the village supervision committee",
    ),
    "FORBIDDEN_CLERK_ONLY": (
        "只有村文书可以上报本村账目",
        "Only the village clerk submits the village's accounts",
    ),
    "FORBIDDEN_RISK_REVIEWERS_ONLY": (
        "只有村务监督委员会和乡镇干部可以处理风险提示",
        "Only the supervision committee and township officials handle risk notes",
    ),
    "FORBIDDEN_FLAG_HANDLERS_ONLY": (
        "只有乡镇干部可以处理质疑（逾期或重新打开后由县纪委处理）",
        "Only township officials handle flags (the county's inspectors once overdue or reopened)",
    ),
    "FORBIDDEN_FLAG_NOT_ESCALATED": (
        "该质疑还由乡镇干部处理，逾期或重新打开后才转到县纪委",
        "Township officials handle this flag; it goes to the county only once overdue or reopened",
    ),
    "FORBIDDEN_COMMENT_MODERATORS_ONLY": (
        "只有乡镇干部可以处理被举报的评论",
        "Only township officials moderate comments",
    ),
    "FORBIDDEN_FLAGGERS_PROTECTED": (
        "为保护质疑人，只有乡镇干部和县纪委可以查看",
        "To protect the people who flag, only township officials and county inspectors see this",
    ),
    "FORBIDDEN_INSPECTORS_ONLY": (
        "只有县纪委可以查看谁看过质疑人的身份",
        "Only county inspectors see who saw a flagger's identity",
    ),
    "FORBIDDEN_AUDITORS_ONLY": (
        "只有县纪委和管理员可以查看操作记录",
        "Only county inspectors and administrators read the audit log",
    ),
    "FORBIDDEN_RESIDENCY_VERIFIERS_ONLY": (
        "只有村文书、乡镇干部或管理员可以核实村民身份",
        "Only the village clerk, township officials or administrators verify residents",
    ),
    "FORBIDDEN_DUE_DAY_SETTERS_ONLY": (
        "只有乡镇干部或管理员可以设置公开期限",
        "Only township officials or administrators set due days",
    ),
    "FORBIDDEN_REDACTORS_ONLY": (
        "只有村文书、村务监督委员会、乡镇干部或管理员可以遮挡照片",
        "Only the clerk, the supervision committee, township officials or administrators redact",
    ),
    "FORBIDDEN_REVIEWERS_ONLY": (
        "只有村务监督委员会和上级干部可以查看待审核的事项",
        "Only the supervision committee and the staff above see what awaits approval",
    ),
    "FORBIDDEN_OWN_VILLAGE_ONLY": (
        "只能评论或质疑本村的事项",
        "You can only comment on or flag items of your own village",
    ),
    "FORBIDDEN_RESIDENCY_NOT_VERIFIED": (
        "需要先由村文书核实村民身份",
        "Your residency must first be verified by the village clerk",
    ),
    "FORBIDDEN_EVIDENCE_ONLY": (
        "村民只能上传质疑本村事项的证据",
        "Villagers upload only evidence for a flag about their own village",
    ),
    "FORBIDDEN_AUTHOR_CANNOT_APPROVE": (
        "审核人不能是作者：须由另一人审核",
        "The approver cannot be the author: someone else must approve",
    ),
    "FORBIDDEN_FLAGGER_ONLY": (
        "只有提出质疑的人可以回应处理结果",
        "Only the person who raised the flag can answer its resolution",
    ),
    "FORBIDDEN_COMMENT_AUTHOR_ONLY": (
        "只能修改或删除自己的评论",
        "You can only edit or delete your own comments",
    ),
    "FORBIDDEN_ACCOUNT_PRIVATE": (
        "他人的账号只有管辖其所在地区的工作人员可以查看",
        "Other people's accounts are visible only to staff covering their region",
    ),
    "FORBIDDEN_NOT_FOR_YOURSELF": (
        "不能给自己授予角色",
        "You cannot grant a role to yourself",
    ),
    "FORBIDDEN_OPERATORS_ONLY": (
        "只有运维人员可以在服务器上这样做",
        "Only the operators can do this, on the server",
    ),
    "FORBIDDEN_NOTICE_RESIDENTS_ONLY": (
        "只有该通知所覆盖地区的村民可以确认已读",
        "Only residents of the villages a notice covers acknowledge it",
    ),
    "FORBIDDEN_NOTICE_STATS_READERS_ONLY": (
        "只有发布地区及上级的干部、县纪委和本村文书可以查看通知阅读情况",
        "Only officials of the notice's region or above, inspectors and the village's clerk "
        "see who read a notice",
    ),
    "NOT_FOUND": ("找不到该对象", "Not found"),
    "BAD_USER_INPUT": ("请求参数有误", "Invalid input"),
    "RATE_LIMITED": (
        "操作过于频繁，请{retry_after}秒后再试",
        "Too many attempts; try again in {retry_after} s",
    ),
    "QUERY_TOO_COMPLEX": ("查询过于复杂", "The query is too complex"),
    "SERVICE_UNAVAILABLE": (
        "服务暂时不可用，请稍后再试",
        "The service is temporarily unavailable; try again shortly",
    ),
    "QUERY_TOO_DEEP": (
        "查询嵌套过深（最多{limit}层）",
        "The query is nested too deeply (at most {limit} levels)",
    ),
    "QUERY_TOO_COSTLY": (
        "查询代价{cost}超过上限{limit}",
        "The query costs {cost}, above the limit of {limit}",
    ),
    "QUERY_TOO_COSTLY_PAGE": (
        "查询代价{cost}超过上限{limit}：请为连接指定较小的 first，其余用 after 翻页：{pages}",
        "The query costs {cost}, above the limit of {limit}: give the connection a smaller "
        "first and page through the rest with after: {pages}",
    ),
    "INTERNAL_SERVER_ERROR": (
        "服务器内部错误（请求编号 {request_id}）",
        "Internal server error (request {request_id})",
    ),
    "MUTATION_OVER_GET": ("修改操作必须使用 POST 请求", "Mutations must be sent with POST"),
    "SUBSCRIPTION_ONLY": (
        "WebSocket 上只接受订阅；查询和修改请用 HTTP",
        "Only subscriptions go over the WebSocket; send queries and mutations over HTTP",
    ),
    "TOO_MANY_SUBSCRIPTIONS": (
        "同一连接上的订阅过多",
        "Too many subscriptions on one connection",
    ),
    "SINCE_NEGATIVE": ("since 不能为负数", "since must not be negative"),
    "PAGE_SIZE": ("每页数量须在 0 到 {limit} 之间", "Page size must be between 0 and {limit}"),
    "INVALID_CURSOR": ("无效的分页游标", "Invalid pagination cursor"),
    "NUL_CHARACTER": (
        "文本中不能含有空字符（\\u0000）",
        "Text must not contain the NUL character (\\u0000)",
    ),
    "IDEMPOTENCY_KEY_INVALID": (
        "Idempotency-Key 须为8到128个字母、数字或 _.:-",
        "Idempotency-Key must be 8 to 128 letters, digits or _.:-",
    ),
    "IDEMPOTENCY_KEY_REUSED": (
        "该 Idempotency-Key 已用于另一个请求",
        "This Idempotency-Key was used for a different request",
    ),
    "IDEMPOTENCY_IN_PROGRESS": (
        "相同的请求正在处理中，请稍后重试",
        "The same request is still being processed; retry shortly",
    ),
    "PERSISTED_QUERY_NOT_FOUND": ("PersistedQueryNotFound", "PersistedQueryNotFound"),
    "PERSISTED_QUERY_HASH_MISMATCH": (
        "查询文本与 sha256Hash 不符",
        "The query does not match its sha256Hash",
    ),
    "BAD_REQUEST_BODY": (
        "请求体不是有效的 GraphQL JSON 请求",
        "The request body is not a valid GraphQL JSON request",
    ),
    "UNSUPPORTED_CONTENT_TYPE": (
        "请使用 application/json 发送请求",
        "Send requests as application/json",
    ),
    "BODY_TOO_LARGE": ("请求体过大", "The request body is too large"),
    "CSRF_PREFLIGHT_REQUIRED": (
        "上传请求须带 GraphQL-Preflight 请求头",
        "Multipart requests must carry a GraphQL-Preflight header",
    ),
    "BAD_MULTIPART": ("上传请求格式有误", "The multipart request is malformed"),
    # user errors
    "INVALID_PHONE": ("请输入有效的中国大陆手机号", "Enter a valid mainland China mobile number"),
    "PHONE_TAKEN": ("该手机号已注册", "This phone number is already registered"),
    "PASSWORD_TOO_SHORT": (
        "密码至少需要{min}个字符",
        "The password needs at least {min} characters",
    ),
    "PASSWORD_TOO_LONG": ("密码最多{max}个字符", "The password may have at most {max} characters"),
    "PASSWORD_TOO_WEAK": (
        "密码不能只包含数字或与手机号相同",
        "The password must not be only digits or the phone number",
    ),
    "INVALID_NAME": ("姓名长度须为1到{max}个字符", "The name must have 1 to {max} characters"),
    "INVALID_CREDENTIALS": ("手机号或密码错误", "Wrong phone number or password"),
    "ACCOUNT_DISABLED": ("该账号已停用", "This account is disabled"),
    "WRONG_PASSWORD": ("原密码错误", "The current password is wrong"),
    "SAME_PASSWORD": (
        "新密码不能与原密码相同",
        "The new password must differ from the current one",
    ),
    "TOKEN_REUSED": (
        "该刷新令牌已被使用，为安全起见此登录已失效，请重新登录",
        "This refresh token was already used; for safety the session is ended, sign in again",
    ),
    "TOKEN_REVOKED": ("该登录已注销，请重新登录", "This session was signed out; sign in again"),
    "CODE_INVALID": (
        "验证码错误或已失效，请重新获取",
        "The code is wrong or no longer valid; ask for a new one",
    ),
    "PHONE_NOT_YOURS": (
        "只能验证本账号的手机号",
        "Only this account's own phone number can be verified",
    ),
    "PHONE_ALREADY_VERIFIED": ("该手机号已验证", "This phone number is already verified"),
    "INVALID_ID": ("无效的编号", "Invalid ID"),
    "INVALID_ID_NUMBER": (
        "身份证号码不正确，请核对18位号码（最后一位可能是X）",
        "This is not a valid ID number; check the 18 characters (the last may be X)",
    ),
    "ID_NUMBER_TAKEN": (
        "该身份证号码已被另一个账号登记。如果是您本人的号码，请带身份证到乡镇便民服务中心处理",
        "Another account has already entered this ID number. If it is yours, take your ID "
        "card to the township office",
    ),
    "PHONE_NOT_VERIFIED": (
        "请先用短信验证码验证手机号",
        "Verify your phone number with an SMS code first",
    ),
    "WRONG_KIND": (
        "该对象类型不符合要求（需要{expected}）",
        "Wrong kind of object (expected {expected})",
    ),
    "NOT_A_VILLAGE": ("请选择一个行政村", "Choose an administrative village"),
    "NO_VILLAGE": ("该用户未登记所属村", "This user has no home village"),
    "INVALID_REGION_KIND": (
        "{parent}下不能建立{kind}",
        "A {kind} cannot be created under {parent}",
    ),
    "INVALID_CODE": ("区划代码须为12位数字", "The division code must have 12 digits"),
    "CODE_MISMATCH": (
        "区划代码须以上级代码{prefix}开头",
        "The division code must start with the parent's {prefix}",
    ),
    "CODE_TAKEN": ("该区划代码已存在", "This division code is already in use"),
    "WECHAT_CODE_INVALID": (
        "微信登录凭证无效或已使用，请在小程序中重试",
        "The WeChat login code is invalid or used; try again in the mini program",
    ),
    "WECHAT_BOUND_ELSEWHERE": (
        "该微信已绑定另一个账号，请先在那个账号中解除绑定",
        "This WeChat account is bound to another account; unbind it there first",
    ),
    "NAME_TAKEN": (
        "同一上级下已有同名区划",
        "A region with this name already exists under the same parent",
    ),
    "ROLE_REGION_KIND": ("{role}只能授予在{kinds}上", "{role} can only be granted on {kinds}"),
    "INVALID_TITLE": ("标题须为1到{max}个字符", "The title must have 1 to {max} characters"),
    "BODY_TOO_LONG": ("正文最多{max}个字符", "The body may have at most {max} characters"),
    "TABLE_TOO_LARGE": ("表格过大（最多{max}）", "The table is too large (at most {max})"),
    "INVALID_TABLE_ROW": ("表格行的列数与表头不符", "A table row does not match the columns"),
    "INVALID_TABLE_CELL": (
        "表格单元格的内容不符合该列类型",
        "A table cell does not fit its column",
    ),
    "CATALOGUE_MISMATCH": (
        "公开目录项目与类别不符或已停用",
        "The catalogue item does not fit the category or is inactive",
    ),
    "CATEGORY_REGION_KIND": (
        "财务、党务、村务公开只能发布在行政村",
        "Finance, party and village affairs are published on a village",
    ),
    "INVALID_PERIOD": (
        "期间格式应为 2026-03、2026-Q1、2026-H1 或 2026",
        "Periods look like 2026-03, 2026-Q1, 2026-H1 or 2026",
    ),
    "PERIOD_REQUIRED": (
        "该目录项目须填写相应期间，如 {example}",
        "This catalogue item needs a period such as {example}",
    ),
    "TOO_MANY_ATTACHMENTS": ("附件最多{max}个", "At most {max} attachments"),
    "EXPIRY_INVALID": (
        "有效期须晚于开始时间，发布时也须尚未过期，且只适用于通知和农技信息",
        "An expiry must come after the start and not be past at publication; "
        "only notices and farming information have one",
    ),
    "NOT_MUST_READ": (
        "只有必读通知需要确认已读",
        "Only must-read notices are acknowledged",
    ),
    "NOTICE_NOT_PUBLISHED": (
        "该通知尚未发布或已撤回，不能确认已读",
        "This notice is not published (or was retracted): it cannot be acknowledged",
    ),
    "FARMING_ONLY": (
        "标签、紧急程度和生效时间只适用于农技信息",
        "Tags, urgency and a start time are for farming information only",
    ),
    "URGENT_NEEDS_WARNING": (
        "只有病虫害或天气预警可以设为紧急（请加上 PEST 或 WEATHER 标签）",
        "Only a pest or weather warning can be urgent (tag it PEST or WEATHER)",
    ),
    "ATTACHMENT_RESTRICTED": (
        "该照片有遮挡版本，请附遮挡后的照片",
        "This photo has a redacted copy: attach that one",
    ),
    "ATTACHMENT_ELSEWHERE": (
        "附件须属于本村或其上级",
        "Attachments must belong to this region or one above it",
    ),
    "WRONG_STATUS": (
        "当前状态（{status}）下不能这样操作",
        "Not possible in the current status ({status})",
    ),
    # A disclosure's refusal by status says what can be done instead (see `translate`).
    "WRONG_STATUS:DISCLOSURE_DRAFT": (
        "这是草稿：可以修改（updateDisclosure），提交审核（submitDisclosure）或直接发布",
        "This is a draft: edit it (updateDisclosure), submit it (submitDisclosure) or publish it",
    ),
    "WRONG_STATUS:DISCLOSURE_PENDING_REVIEW": (
        "已提交审核：请等待监督委员会审核，或撤回（withdrawDisclosure）后再修改",
        "Waiting for review: wait for the supervisor, or withdraw it (withdrawDisclosure) "
        "to edit it",
    ),
    "WRONG_STATUS:DISCLOSURE_APPROVED": (
        "已审核通过：请发布（publishDisclosure），不能再修改",
        "Already approved: publish it (publishDisclosure); it can no longer be edited",
    ),
    "WRONG_STATUS:DISCLOSURE_SCHEDULED": (
        "已定时发布，到时自动公开；要立即公开请用 publishDisclosure",
        "Scheduled: it is published at its time; publishDisclosure publishes it now",
    ),
    "WRONG_STATUS:DISCLOSURE_PUBLISHED": (
        "已公开，不能直接修改：请用更正（correctDisclosure）发布新版本并说明原因，"
        "或撤回（retractDisclosure）",
        "Already published: publish a correction with a reason (correctDisclosure), "
        "or retract it (retractDisclosure)",
    ),
    "WRONG_STATUS:DISCLOSURE_RETRACTED": (
        "已撤回，不能再修改；如需重新公开请新建一条",
        "Retracted: it cannot change again; create a new one to publish again",
    ),
    "REASON_REQUIRED": ("请填写原因（2到{max}个字符）", "Give a reason (2 to {max} characters)"),
    "NEEDS_APPROVAL": (
        "财务公开须经村务监督委员会审核后发布",
        "Finance disclosures must be approved before publication",
    ),
    "CORRECT_THROUGH_MONTH": (
        "月度账目的公开事项只能通过更正该月账目来更正",
        "A month's disclosure is corrected only by correcting the month's accounts",
    ),
    "INVALID_KNOWN_HEAD": ("链头的长度不能为负数", "A known head's length cannot be negative"),
    "SEARCH_TOO_SHORT": (
        "请输入至少两个汉字或一个词",
        "Search for at least two Chinese characters or one word",
    ),
    "REQUIRED": ("此项必填", "This field is required"),
    "INVALID_FREQUENCY": (
        "只能为按月、季、半年、年的频次设置期限",
        "Due days apply to monthly, quarterly, half-yearly or yearly items",
    ),
    "INVALID_DAY": ("日期须在1到31之间", "The day must be between 1 and 31"),
    "INVALID_COMMENT": ("评论须为1到{max}个字符", "A comment must have 1 to {max} characters"),
    "NOT_COMMENTABLE": ("只能评论已发布的事项", "Only published items can be commented on"),
    "REPLY_DEPTH": ("只能回复一级评论", "Replies go to top-level comments only"),
    "RESIDENCY_REQUIRED": (
        "请先由村文书核实村民身份后再评论或举报",
        "Have your residency verified by the clerk before commenting or reporting",
    ),
    "EDIT_WINDOW_CLOSED": (
        "评论发表{minutes}分钟后不能再修改",
        "Comments can be edited for {minutes} minutes only",
    ),
    "NOT_YOURS": ("只能修改或删除自己的评论", "You can only edit or delete your own comments"),
    "OWN_COMMENT": ("不能举报自己的评论", "You cannot report your own comment"),
    "INVALID_FLAG_BODY": (
        "质疑内容须为{min}到{max}个字符",
        "A flag needs {min} to {max} characters",
    ),
    "OWN_FLAG": ("不能附议自己提出的质疑", "You cannot support your own flag"),
    "UNREADABLE_FILE": (
        "无法读取文件：请上传 CSV（UTF-8 或 GBK）或 XLSX",
        "Cannot read the file: upload CSV (UTF-8 or GBK) or XLSX",
    ),
    "EMPTY_FILE": (
        "文件是空的：没有任何账目行（只有表头或空白）",
        "The file is empty: no account lines (only a header or blanks)",
    ),
    "MISSING_COLUMN": (
        "缺少“{column}”列（可用列名：{accepted}）；文件中的列：{found}",
        "The column “{column}” is missing (accepted names: {accepted}); the file has: {found}",
    ),
    "DEBIT_AND_CREDIT": (
        "一行只能有借方或贷方金额，不能两者都有",
        "A line has either a debit or a credit amount, not both",
    ),
    "UNBALANCED_VOUCHER": (
        "凭证{voucher}借贷不平（借方合计不等于贷方合计）：请导出完整凭证",
        "Voucher {voucher} does not balance (debits ≠ credits): export whole vouchers",
    ),
    "NO_CASH_SIDE": (
        "借贷格式须导出完整凭证（含库存现金或银行存款分录），才能确定收入和支出",
        "A debit/credit file must hold whole vouchers, with their cash or bank lines",
    ),
    "TOO_MANY_LINES": ("每月最多{max}行", "At most {max} lines per month"),
    "TOO_MANY_LINES:PRICES": ("一次最多导入{max}行价格", "At most {max} price lines at once"),
    "EMPTY_FILE:PRICES": (
        "文件是空的：没有任何价格行（只有表头或空白）",
        "The file is empty: no price lines (only a header or blanks)",
    ),
    "INVALID_AMOUNT:PRICE": (
        "价格格式不对（例：3.5、¥3.50、3.5元），须为整分",
        "Unreadable price (e.g. 3.5, ¥3.50); whole fen only",
    ),
    "NON_POSITIVE_AMOUNT:PRICE": ("价格须大于零", "Prices must be above zero"),
    "NON_POSITIVE_AMOUNT:CONVERTED": (
        "换算为每{unit}的价格不足1分",
        "Converted to a price per {unit}, this is less than one fen",
    ),
    "AMOUNT_TOO_LARGE:PRICE": (
        "价格过大（每{unit}最多{max_yuan}元）",
        "The price is too large (at most {max_yuan} yuan per {unit})",
    ),
    "UNKNOWN_COMMODITY": (
        "没有“{commodity}”这个品种（可用品种见 commodities）",
        "No commodity “{commodity}” (see commodities for the list)",
    ),
    "UNKNOWN_MARKET": (
        "本地区没有“{market}”这个市场",
        "No market “{market}” serves this region",
    ),
    "AMBIGUOUS_MARKET": (
        "有多个叫“{market}”的市场，请在其所在乡镇导入",
        "Several markets are called “{market}”; import in the township it belongs to",
    ),
    "UNKNOWN_UNIT": (
        "单位“{unit}”无法换算为{commodity}的单位“{expected}”",
        "The unit “{unit}” cannot be converted to {commodity}'s unit “{expected}”",
    ),
    "DATE_IN_FUTURE": ("日期不能晚于今天（北京时间）", "The date is after today (Beijing time)"),
    "DATE_TOO_OLD": ("只能录入{years}年内的价格", "Only prices of the last {years} years"),
    "DATE_RANGE_TOO_LONG": (
        "日期范围最多{max}天，且开始日期不能晚于结束日期",
        "A date range covers at most {max} days and starts no later than it ends",
    ),
    "MARKET_REGION_KIND": (
        "市场只能设在乡镇（街道）或县（区）",
        "A market belongs to a township or a county",
    ),
    "NAME_TAKEN:MARKET": ("该地区已有同名市场", "This region already has a market of that name"),
    "INVALID_NAME:MARKET": (
        "市场名称须为1到{max}个字符",
        "A market's name must have 1 to {max} characters",
    ),
    "PRICES_RECORDED_MEANWHILE": (
        "有人同时录入了同一天的价格，请重试",
        "Someone recorded the same day's prices at the same time; try again",
    ),
    "SUPERVISION_COMMITTEE": ("村务监督委员会", "Village supervision committee"),
    "TOO_MANY_ITEMS": ("一次最多处理{max}项", "At most {max} items at once"),
    "TOO_MANY_FOLLOWS": ("最多关注{max}个地区", "You can follow at most {max} regions"),
    "INVALID_CHOICE": ("不是可选的值", "Not one of the allowed values"),
    "DUPLICATE_ENTRY": ("同一项不能出现两次", "The same entry appears twice"),
    "INVALID_DATE": (
        "日期格式不对（例：2026-03-05、2026/3/5、2026年3月5日）",
        "Unreadable date (e.g. 2026-03-05, 2026/3/5)",
    ),
    "INVALID_DIRECTION": (
        "收支须填“收入”或“支出”",
        "Direction must be 收入 (income) or 支出 (expense)",
    ),
    "MISSING_SUBJECT": ("缺少会计科目代码", "The account subject code is missing"),
    "INVALID_AMOUNT": (
        "金额格式不对（例：1234.56、1,234.56、¥1234.56）",
        "Unreadable amount (e.g. 1234.56, 1,234.56)",
    ),
    "NON_POSITIVE_AMOUNT": ("金额须大于零", "Amounts must be above zero"),
    "AMOUNT_TOO_LARGE": ("金额过大", "The amount is too large"),
    "TOO_LONG": ("内容过长（最多{max}字）", "Too long (at most {max} characters)"),
    "LINE_OUTSIDE_MONTH": ("日期不在{year}年{month}月内", "The date is not in {year}-{month:02}"),
    "UNKNOWN_SUBJECT": (
        "{chart}版会计科目中没有代码{code}",
        "No subject {code} in the {chart} chart",
    ),
    "OPENING_REQUIRED": ("首次上报须填写月初余额", "The first month needs an opening balance"),
    "OPENING_MISMATCH": (
        "月初余额应等于上月月末余额{expected}分",
        "The opening balance must equal last month's closing balance, {expected} fen",
    ),
    "CLOSING_MISMATCH": (
        "月末余额应为{expected}分（月初+收入−支出）",
        "The closing balance must be {expected} fen (opening + income − expense)",
    ),
    "ALREADY_PUBLISHED": (
        "该月账目已公开，只能更正：重新上传（importMonthlyAccount）或录入"
        "（saveMonthlyAccount）并填写更正原因 reason，经监督委员会审核后作为新版本公开",
        "This month is published; it can only be corrected: upload it again "
        "(importMonthlyAccount) or enter it (saveMonthlyAccount) with a reason, and a "
        "supervisor approves the new version",
    ),
    "RETURNED": (
        "已退回村文书修改（{reason}）：等其修改后重新提交再审核",
        "Sent back to the clerk ({reason}): wait until it is submitted again",
    ),
    "NOT_WAITING": (
        "该事项没有在等待审核，无法退回",
        "This item is not waiting for review, so it cannot be sent back",
    ),
    "RISK_HIT_PUBLISHED": (
        "该风险提示所在的账目已公开，结论不能再改；如有新问题请对该行提出质疑",
        "The lines of this risk note are published and its decision is final; "
        "flag the line if you find a new problem",
    ),
    "INVALID_MONTH": ("年月不对", "Invalid year or month"),
    "RISK_HITS_OPEN": (
        "还有未处理的风险提示，处理后才能审核公开",
        "Some risk notes are still open; decide them before approval",
    ),
    "CLOSING_CHANGES_LATER": (
        "更正会改变月末余额，但下个月已上报：请先更正后续月份",
        "The correction changes the closing balance, but a later month exists",
    ),
    "NOT_PUBLISHED": ("该月账目尚未公开", "This month is not published yet"),
    "FONT_MISSING": (
        "服务器缺少中文字体，暂时无法生成图片",
        "The server has no Chinese font to draw the picture",
    ),
    "UNKNOWN_LINE": ("没有第{line}行", "There is no line {line}"),
    "UNSUPPORTED_MEDIA_TYPE": (
        "只能上传 JPEG、PNG、WebP、HEIC 图片或 PDF 文件",
        "Only JPEG, PNG, WebP or HEIC images and PDF files can be uploaded",
    ),
    "FILE_TOO_LARGE": ("文件超过{max_mb}MB", "The file is larger than {max_mb} MB"),
    "IMAGE_TOO_LARGE": ("图片像素过多", "The image has too many pixels"),
    "CORRUPT_FILE": ("文件已损坏或不完整", "The file is damaged or incomplete"),
    "QUOTA_EXCEEDED": ("今日上传量已达上限", "You have reached today's upload limit"),
    "REGION_REQUIRED": (
        "请指定文件所属的村或乡镇",
        "Say which village or township the file belongs to",
    ),
    "NOT_AN_IMAGE": ("只有图片可以遮挡", "Only images can be redacted"),
    "INVALID_RECTANGLE": (
        "遮挡区域须在图片范围内（最多{max}个）",
        "Redaction rectangles must lie inside the image (at most {max})",
    ),
}


def pick_language(accept_language: str | None) -> str:
    """English when the client prefers it over Chinese; Chinese otherwise."""
    if not accept_language:
        return ZH
    best, best_q = ZH, -1.0
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in (ZH, EN) and q > best_q:
            best, best_q = primary, q
    return best


def translate(key: str, lang: str = ZH, **params: object) -> str:
    """The text of `key` with `params`; a `variant` param picks a more specific text
    (`KEY:variant`) when there is one."""
    variant = params.get("variant")
    if variant is not None and f"{key}:{variant}" in MESSAGES:
        key = f"{key}:{variant}"
    zh, en = MESSAGES.get(key, (key, key))
    template = en if lang == EN else zh
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template
