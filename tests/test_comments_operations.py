"""Comment operations called directly, as a script would: same checks, same audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.audit import AuditEntry
from models.comments import Comment, CommentRevision, CommentStatus
from models.comments.workflow import (
    REPORTS_TO_HIDE,
    add_comment,
    delete_comment,
    edit_comment,
    hide_comment,
    report_comment,
    restore_comment,
)
from models.disclosures import Disclosure
from models.errors import Forbidden, UserErrors
from models.policy import Viewer, viewer_for_user
from tests.test_flags_operations import SOURCE, as_user, codes, published_item, villager


@pytest.fixture
async def item(demo) -> Disclosure:
    return await published_item(demo)


async def test_villagers_comment_staff_answer_and_replies_go_one_level(app, demo, item):
    resident = await as_user(demo, "VILLAGER")
    comment = await add_comment(resident, item.id, "  路面什么时候硬化？ ")
    assert comment.body == "路面什么时候硬化？" and not comment.official
    added = await AuditEntry.get(action="comment.add")
    assert (added.actor_id, added.request_id) == (demo.users["VILLAGER"].id, SOURCE)
    assert added.after == {"body": "路面什么时候硬化？", "target": item.id}
    answer = await add_comment(await as_user(demo, "CLERK"), item.id, "下月开工", comment.id)
    assert answer.official and answer.parent_id == comment.id
    with pytest.raises(UserErrors) as depth:
        await add_comment(resident, item.id, "谢谢", answer.id)
    assert codes(depth) == [("REPLY_DEPTH", "parentId")]
    with pytest.raises(UserErrors) as missing:
        await add_comment(resident, item.id, "谢谢", answer.id + 100)
    assert codes(missing) == [("NOT_FOUND", "parentId")]
    with pytest.raises(UserErrors) as newcomer:
        await add_comment(await villager(demo, "13911117701", verified=False), item.id, "我也问")
    assert codes(newcomer) == [("RESIDENCY_REQUIRED", "targetId")]
    with pytest.raises(UserErrors) as unknown:
        await add_comment(resident, item.id + 100, "有人吗")
    assert codes(unknown) == [("NOT_FOUND", "targetId")]
    assert await Comment.all().count() == 2


async def test_authors_edit_within_the_window_and_delete_leaving_a_tombstone(app, demo, item):
    author = await as_user(demo, "VILLAGER")
    comment = await add_comment(author, item.id, "预算是多少？")
    with pytest.raises(Forbidden):
        await edit_comment(await villager(demo, "13911117702"), comment.id, "改掉")
    edited = await edit_comment(author, comment.id, "预算是多少万元？")
    assert edited.edited_at is not None
    assert await CommentRevision.filter(comment_id=comment.id).values_list("body", flat=True) == [
        "预算是多少？"
    ]
    entry = await AuditEntry.get(action="comment.edit")
    assert entry.before == {"body": "预算是多少？"} and entry.after == {"body": "预算是多少万元？"}
    await Comment.filter(id=comment.id).update(created_at=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(UserErrors) as late:
        await edit_comment(author, comment.id, "再改")
    assert codes(late) == [("EDIT_WINDOW_CLOSED", "id")]
    for _ in range(2):  # a retry changes nothing
        assert (await delete_comment(author, comment.id)).status == CommentStatus.DELETED
    deleted = await AuditEntry.filter(action="comment.delete")
    assert len(deleted) == 1 and deleted[0].actor_id == demo.users["VILLAGER"].id
    assert deleted[0].before == {"body": "预算是多少万元？", "status": "VISIBLE"}


async def test_three_reports_hide_a_comment_and_an_official_decides(app, demo, item):
    author = await as_user(demo, "VILLAGER")
    comment = await add_comment(author, item.id, "不当言论")
    with pytest.raises(UserErrors) as own:
        await report_comment(author, comment.id, "自己举报")
    assert codes(own) == [("OWN_COMMENT", "id")]
    reporters = [await villager(demo, f"1391111780{n}") for n in range(REPORTS_TO_HIDE)]
    for reporter in reporters:
        comment = await report_comment(reporter, comment.id, "人身攻击")
        await report_comment(reporter, comment.id, "再举报一次")  # once per reporter
    assert comment.status == CommentStatus.REPORTED and comment.report_count == REPORTS_TO_HIDE
    hidden = await AuditEntry.get(action="comment.auto_hide")
    assert hidden.actor_id == reporters[-1].user_id and hidden.after == {"reports": 3}

    for role in ("CLERK", "SUPERVISOR", "INSPECTOR"):
        with pytest.raises(Forbidden):
            await restore_comment(await as_user(demo, role), comment.id, "并无不当")
    official = await as_user(demo, "OFFICIAL")
    restored = await restore_comment(official, comment.id, "并无不当")
    assert restored.status == CommentStatus.VISIBLE and restored.hidden_reason is None
    entry = await AuditEntry.get(action="comment.restore")
    assert (entry.actor_id, entry.request_id) == (demo.users["OFFICIAL"].id, SOURCE)
    assert entry.before == {"body": "不当言论", "status": "REPORTED"}
    assert entry.after == {"status": "VISIBLE", "reason": "并无不当"}
    with pytest.raises(UserErrors) as no_reason:
        await hide_comment(official, comment.id, "")
    assert codes(no_reason) == [("REASON_REQUIRED", "reason")]


async def test_a_cleanup_script_may_hide_as_the_system(app, demo, item):
    comment = await add_comment(await as_user(demo, "VILLAGER"), item.id, "广告：低价出售")
    hidden = await hide_comment(Viewer.for_system("script:spam"), comment.id, "广告")
    assert hidden.status == CommentStatus.HIDDEN and hidden.hidden_by_id is None
    entry = await AuditEntry.get(action="comment.hide")
    assert entry.actor_id is None and entry.request_id == "script:spam"
    await delete_comment(await viewer_for_user(demo.users["VILLAGER"]), comment.id)
    with pytest.raises(UserErrors) as gone:
        await restore_comment(await as_user(demo, "OFFICIAL"), comment.id, "恢复")
    assert codes(gone) == [("WRONG_STATUS", "id")]
