"""Operational scripts: create_admin is idempotent, seed_demo fills an empty database once,
import_accounts acts (and is audited) as the clerk."""

from __future__ import annotations

from models.accounts import Role, RoleGrant, User
from models.accounts.auth import Passwords
from models.regions import Region, RegionKind
from scripts.create_admin import create_admin
from scripts.seed_demo import seed_demo


async def test_create_admin_is_idempotent_and_resets_the_password(app, settings):
    first = await create_admin(settings, "13700000009", "first-password", "运维")
    second = await create_admin(settings, "+86 137 0000 0009", "second-password", "运维")
    assert first.id == second.id
    assert await User.filter(phone="13700000009").count() == 1
    grants = await RoleGrant.filter(user_id=first.id)
    assert [(g.role, g.region_id) for g in grants] == [(Role.ADMIN, None)]
    user = await User.get(id=first.id)
    assert await Passwords(settings).verify(user.password_hash, "second-password")


async def test_seed_demo_builds_the_county_once(app, settings):
    demo = await seed_demo(settings, content=False)
    assert demo is not None
    counts = {kind: await Region.filter(kind=kind).count() for kind in RegionKind}
    assert counts[RegionKind.COUNTY] == 1
    assert counts[RegionKind.TOWNSHIP] == 3
    assert counts[RegionKind.VILLAGE] == 12
    assert counts[RegionKind.GROUP] == 24
    assert set(demo.users) == {"ADMIN", "INSPECTOR", "OFFICIAL", "CLERK", "SUPERVISOR", "VILLAGER"}
    assert await seed_demo(settings) is None
    assert await Region.all().count() == 40


async def test_imported_months_are_audited_as_the_clerk_and_read_over_http(
    app, demo, gql, tmp_path
):
    from api.relay import to_global_id
    from scripts.import_accounts import import_folder
    from tests.test_finance import SAMPLES

    (tmp_path / "2026-03.csv").write_bytes((SAMPLES / "2026-03-utf8.csv").read_bytes())
    report = await import_folder(tmp_path, demo.villages[0].code, "13800000004", 500_000)
    assert report[0].startswith("2026-03 ok: 4 lines") and "1 risk notes" in report[0]
    log = await gql.data(
        """query($r: ID!) { auditLog(regionId: $r, action: "accounts.import") { edges { node {
          action objectType actor { name } requestId after } } } }""",
        {"r": to_global_id("Region", demo.county.id)},
        token=await gql.login("13800000002"),  # the county's inspector
    )
    [entry] = [e["node"] for e in log["auditLog"]["edges"]]
    assert entry["objectType"] == "MonthlyAccount" and entry["actor"] == {"name": "村文书 刘芳"}
    assert entry["requestId"] == "script:import_accounts"
    assert (entry["after"]["year"], entry["after"]["month"], entry["after"]["lines"]) == (
        2026,
        3,
        4,
    )


async def test_the_import_script_stops_where_the_clerk_has_no_grant(app, demo, tmp_path):
    from scripts.import_accounts import import_folder
    from tests.test_finance import SAMPLES

    (tmp_path / "2026-03.csv").write_bytes((SAMPLES / "2026-03-utf8.csv").read_bytes())
    report = await import_folder(tmp_path, demo.villages[1].code, "13800000004", 500_000)
    assert report == ["2026-03 FAILED: FORBIDDEN"]


def test_bench_http_drives_wrk_with_a_lua_script_and_reads_its_summary(tmp_path):
    """No server, no wrk: the script it is given (headers, rotating bodies, `done`) and the
    line its `done` prints, read back into req/s and milliseconds."""
    from scripts.bench_http import Request, Result, lua_string, wrk_script

    assert lua_string("a]=]b") == "[==[a]=]b]==]"
    request = Request("POST", "/graphql", {"Authorization": "Bearer t"}, bodies=(b"{1}", b"{2}"))
    script = wrk_script(request, tmp_path).read_text()
    assert "wrk.headers[ [=[Authorization]=] ] = [=[Bearer t]=]" in script
    assert "request = function()" in script and "done = function" in script
    bodies = next(tmp_path.glob("bodies-*.txt")).read_bytes()
    assert bodies == b"{1}\n{2}\n"
    line = (
        'BENCH {"requests": 5000, "duration_us": 2000000, "bytes": 1, "status_errors": 1, '
        '"socket_errors": 2, "p50_us": 1500, "p95_us": 4000, "p99_us": 9000}'
    )
    result = Result.parse("Running 2s test\n" + line + "\n")
    assert (result.rps, result.p50_ms, result.p99_ms, result.errors) == (2500, 1.5, 9, 3)


def test_bench_http_counts_the_cpu_of_a_server_and_its_workers():
    """uvicorn --workers N: the CPU is spent in the children, counted with their parent."""
    import subprocess
    import sys
    import time

    from scripts.bench_http import tree_cpu_seconds

    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\ntime.sleep(30)"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}])",
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while tree_cpu_seconds(parent.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tree_cpu_seconds(parent.pid) >= 0.3
        assert tree_cpu_seconds(parent.pid) < 5
    finally:
        subprocess.run(["pkill", "-P", str(parent.pid)], check=False)
        parent.kill()
        parent.wait()
