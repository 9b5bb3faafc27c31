"""A 2,000-line month with 50 receipts, end to end: `python -m scripts.bench_import`.

Runs the app in process on a fresh SQLite file (or DATABASE_URL's PostgreSQL), uploads 50
receipt photos, then imports the month's CSV with every receipt linked, and prints the
seconds, lines per second and SQL statements of the import.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import random
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

from api.app import create_app
from api.database import migrate
from api.relay import to_global_id
from api.settings import Settings, sqlite_url
from models.finance import RiskHit
from scripts.seed_demo import DEMO_PASSWORD, seed_demo

LOGIN = """mutation($input: LoginInput!) { login(input: $input) { accessToken } }"""
UPLOAD = """mutation($input: UploadMediaInput!) {
  uploadMedia(input: $input) { media { id } errors { code } } }"""
IMPORT = """mutation($input: ImportMonthlyAccountInput!) { importMonthlyAccount(input: $input) {
  account { lineCount incomeFen expenseFen } errors { code line field } } }"""


def month_csv(lines: int, seed: int = 5) -> bytes:
    rng = random.Random(seed)
    rows = ["日期,收支,科目代码,金额,对方单位,摘要"]
    payees = [f"供应商{i}" for i in range(300)]
    for i in range(lines):
        income = rng.random() < 0.3
        amount = rng.randrange(100, 400_000) / 100
        rows.append(
            ",".join(
                [
                    f"2026-03-{rng.randrange(1, 29):02d}",
                    "收入" if income else "支出",
                    "503" if income else "513",
                    f"{amount:.2f}",
                    rng.choice(payees),
                    f"第{i + 1}笔",
                ]
            )
        )
    return ("\n".join(rows) + "\n").encode("utf-8")


def receipt_jpeg(n: int) -> bytes:
    img = Image.new("RGB", (800, 600), (250, 250, 245))
    img.paste((n * 5 % 255, 40, 90), (50, 50, 50 + n * 10, 120))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


async def run(lines: int, receipts: int) -> None:
    base = Settings.from_env().with_overrides(jobs=False)  # requests only, no scheduler
    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    settings = base.with_overrides(
        database_url=base.database_url
        if base.database_url.startswith("postgres")
        else sqlite_url(folder / "bench.sqlite3"),
        data_dir=folder,
        media_root=folder / "media",
        redis_url=None,
        media_uploads_per_hour=10_000,
    )
    await migrate(settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        demo = await seed_demo(settings, content=False)
        assert demo is not None, "use an empty database"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=120
        ) as http:
            login = await http.post(
                "/graphql",
                json={
                    "query": LOGIN,
                    "variables": {"input": {"phone": "13800000004", "password": DEMO_PASSWORD}},
                },
            )
            token = login.json()["data"]["login"]["accessToken"]
            headers = {"Authorization": f"Bearer {token}", "GraphQL-Preflight": "1"}
            started = time.perf_counter()
            media_ids = []
            for n in range(receipts):
                form = {
                    "operations": json.dumps(
                        {
                            "query": UPLOAD,
                            "variables": {"input": {"file": None, "purpose": "RECEIPT"}},
                        }
                    ),
                    "map": json.dumps({"0": ["variables.input.file"]}),
                }
                body = (
                    await http.post(
                        "/graphql",
                        data=form,
                        files={"0": ("r.jpg", receipt_jpeg(n), "image/jpeg")},
                        headers=headers,
                    )
                ).json()
                media_ids.append(body["data"]["uploadMedia"]["media"]["id"])
            uploads = time.perf_counter() - started
            csv = month_csv(lines)
            links = [
                {"line": 2 + i * (lines // receipts), "mediaId": m} for i, m in enumerate(media_ids)
            ]
            variables = {
                "input": {
                    "villageId": to_global_id("Region", demo.villages[0].id),
                    "year": 2026,
                    "month": 3,
                    "file": None,
                    "openingBalanceFen": 10_000_000_000,
                    "receipts": links,
                }
            }
            form = {
                "operations": json.dumps({"query": IMPORT, "variables": variables}),
                "map": json.dumps({"0": ["variables.input.file"]}),
            }
            counter = {"n": 0}

            class Count(logging.Handler):
                def emit(self, record: logging.LogRecord) -> None:
                    counter["n"] += 1

            logger = logging.getLogger("tortoise.db_client")
            handler = Count()
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
            started = time.perf_counter()
            response = await http.post(
                "/graphql",
                data=form,
                files={"0": ("2026-03.csv", csv, "text/csv")},
                headers=headers,
            )
            seconds = time.perf_counter() - started
            logger.removeHandler(handler)
        notes = await RiskHit.all().count()  # the clerk may not see them: count directly
    payload = response.json()["data"]["importMonthlyAccount"]
    assert payload["errors"] == [], payload["errors"][:5]
    account = payload["account"]
    print(f"{receipts} receipts uploaded in {uploads:.2f} s ({receipts / uploads:.1f}/s)")
    print(
        f"import of {account['lineCount']} lines with {receipts} receipts: {seconds:.2f} s, "
        f"{account['lineCount'] / seconds:,.0f} lines/s, {counter['n']} SQL statements, "
        f"{notes} risk notes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--receipts", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.lines, args.receipts))


if __name__ == "__main__":
    main()
