"""Uploading photos and PDFs over HTTP: checks, clean variants, redaction, serving, orphans."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pikepdf
import pytest
from PIL import Image, ImageOps

from api.relay import from_global_id, to_global_id
from media.service import delete_orphans, mark_attached
from models.media import Media
from tests import media_files
from tests.client import error_codes

CLERK, SUPERVISOR, VILLAGER, OFFICIAL = "13800000004", "13800000005", "13800000006", "13800000003"
UPLOAD = """mutation($input: UploadMediaInput!) { uploadMedia(input: $input) {
  media { id kind mimeType purpose width height bytes sha256 url thumbnailUrl mediumUrl
          placeholder redacted restricted region { name } }
  errors { code field message } } }"""
REDACT = """mutation($input: RedactMediaInput!) { redactMedia(input: $input) {
  media { id url thumbnailUrl mediumUrl redacted width height }
  errors { code field } } }"""
MEDIA_NODE = """query($id: ID!) { node(id: $id) { ... on Media {
  id url thumbnailUrl restricted } } }"""


async def upload(
    client,
    token,
    data,
    *,
    purpose="RECEIPT",
    region_id=None,
    preflight=True,
    filename="photo.jpg",
    content_type="image/jpeg",
):
    variables = {"input": {"file": None, "purpose": purpose}}
    if region_id:
        variables["input"]["regionId"] = region_id
    form = {
        "operations": json.dumps({"query": UPLOAD, "variables": variables}),
        "map": json.dumps({"0": ["variables.input.file"]}),
    }
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if preflight:
        headers["GraphQL-Preflight"] = "1"
    return await client.post(
        "/graphql", data=form, files={"0": (filename, data, content_type)}, headers=headers
    )


async def uploaded(client, token, data, **kw):
    response = await upload(client, token, data, **kw)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["uploadMedia"]


def stored_files(settings) -> list:
    root = settings.media_root
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def assert_no_metadata(img: Image.Image, allow_orientation: bool = False) -> None:
    exif = img.getexif()
    assert not exif.get_ifd(0x8825), "GPS survived"
    assert set(exif) <= ({0x0112} if allow_orientation else set()), dict(exif)
    for key in ("xmp", "XML:com.adobe.xmp", "comment", "icc_profile", "mp"):
        assert key not in img.info, key


async def fetch_image(client, url: str) -> tuple[httpx.Response, Image.Image]:
    response = await client.get(url)
    assert response.status_code == 200, url
    return response, Image.open(io.BytesIO(response.content))


async def test_a_phone_jpeg_comes_out_upright_without_metadata(client, gql, demo, settings):
    token = await gql.login(CLERK)
    data = media_files.phone_jpeg(orientation=6)
    media = (await uploaded(client, token, data))["media"]
    assert (media["kind"], media["mimeType"], media["width"], media["height"]) == (
        "IMAGE",
        "image/jpeg",
        300,
        400,
    )
    assert media["bytes"] == len(data) and media["region"]["name"] == "东溪村"
    assert media["placeholder"].startswith("#")

    for url, size in [(media["thumbnailUrl"], 320), (media["mediumUrl"], 400)]:
        response, img = await fetch_image(client, url)
        assert img.format == "WEBP" and max(img.size) == size and img.size[0] < img.size[1]
        assert_no_metadata(img)
        top, bottom = (
            img.getpixel((img.width // 2, 5)),
            img.getpixel((img.width // 2, img.height - 5)),
        )
        assert top[0] > 200 and top[2] < 60, top  # red on top: orientation applied
        assert bottom[2] > 200 and bottom[0] < 60, bottom
        assert response.headers["content-type"] == "image/webp"
        # Attached to nothing published yet: for the uploader and staff only, signed.
        assert response.headers["cache-control"] == "private, max-age=3600"
        assert response.headers["x-content-type-options"] == "nosniff"
        again = await client.get(url, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
    assert (await client.get(media["thumbnailUrl"].split("?")[0])).status_code == 404
    row = await Media.get(sha256=media["sha256"])
    await mark_attached([row.id])  # published with something: public, cached for good
    public = await client.get(media["thumbnailUrl"].split("?")[0])
    assert public.headers["cache-control"] == "public, max-age=31536000, immutable"

    response, original = await fetch_image(client, media["url"])
    assert original.format == "JPEG" and response.headers["content-type"] == "image/jpeg"
    assert_no_metadata(original, allow_orientation=True)
    assert original.getexif()[0x0112] == 6
    assert ImageOps.exif_transpose(original).size == (300, 400)
    # Lossless: every pixel is the uploaded one.
    uploaded_pixels = Image.open(io.BytesIO(data)).convert("RGB")
    assert original.convert("RGB").tobytes() == uploaded_pixels.tobytes()
    assert b"shot at home" not in response.content and b"secret-location" not in response.content


@pytest.mark.parametrize(
    ("make", "mime", "size"),
    [
        (media_files.png_with_alpha, "image/png", (200, 100)),
        (media_files.webp, "image/webp", (300, 200)),
        (media_files.heic, "image/heif", (320, 240)),
    ],
)
async def test_png_webp_and_heic_become_clean_jpeg_and_webp(client, gql, demo, make, mime, size):
    token = await gql.login(CLERK)
    media = (await uploaded(client, token, make(), filename="x.pdf", content_type="text/plain"))[
        "media"
    ]
    assert media["mimeType"] == mime and (media["width"], media["height"]) == size
    _, original = await fetch_image(client, media["url"])
    assert original.format == "JPEG" and original.mode == "RGB"
    assert_no_metadata(original)
    _, thumb = await fetch_image(client, media["thumbnailUrl"])
    assert thumb.format == "WEBP"


async def test_transparent_png_is_flattened_on_white(client, gql, demo):
    media = (await uploaded(client, await gql.login(CLERK), media_files.png_with_alpha()))["media"]
    _, original = await fetch_image(client, media["url"])
    assert min(original.getpixel((10, 50))) > 240  # was transparent


async def test_pdfs_are_rewritten_and_downloaded(client, gql, demo):
    token = await gql.login(CLERK)
    media = (
        await uploaded(
            client,
            token,
            media_files.PDF,
            purpose="DOCUMENT",
            filename="账目.pdf",
            content_type="application/pdf",
        )
    )["media"]
    assert media["kind"] == "PDF" and media["thumbnailUrl"] is None and media["width"] is None
    response = await client.get(media["url"])
    with pikepdf.open(io.BytesIO(response.content)) as stored:  # rewritten, pages kept
        assert len(stored.pages) == 1
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment")


def truncated_jpeg() -> bytes:
    data = media_files.phone_jpeg(size=(800, 600))
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: b"GIF89a" + b"\x00" * 100, "UNSUPPORTED_MEDIA_TYPE"),
        (lambda: b"<html><script>alert(1)</script></html>", "UNSUPPORTED_MEDIA_TYPE"),
        (media_files.pixel_bomb, "IMAGE_TOO_LARGE"),
        (truncated_jpeg, "CORRUPT_FILE"),
        (lambda: media_files.png_with_alpha()[:60], "CORRUPT_FILE"),
        (lambda: media_files.PDF[:40], "CORRUPT_FILE"),
    ],
)
async def test_refused_uploads_leave_nothing_behind(client, gql, demo, settings, make, code):
    response = await upload(client, await gql.login(CLERK), make())
    payload = response.json()["data"]["uploadMedia"]
    assert payload["media"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, "file")]
    assert await Media.all().count() == 0
    assert stored_files(settings) == []


async def call_in_chunks(app, request: httpx.Request, chunk: int = 16_384):
    """Drive the ASGI app as a server would: the body arrives piece by piece."""
    body = request.read()
    pulled = {"bytes": 0}
    sent: list[dict] = []

    async def receive():
        start = pulled["bytes"]
        piece = body[start : start + chunk]
        pulled["bytes"] += len(piece)
        return {"type": "http.request", "body": piece, "more_body": pulled["bytes"] < len(body)}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in request.headers.raw],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(content), pulled["bytes"], len(body)


async def test_too_large_files_are_refused_while_streaming(app, gql, demo, settings, monkeypatch):
    small = settings.with_overrides(media_max_bytes=50_000)
    monkeypatch.setattr(app.state.services, "settings", small)
    token = await gql.login(CLERK)
    big = media_files.noisy_jpeg()
    form = {
        "operations": json.dumps(
            {"query": UPLOAD, "variables": {"input": {"file": None, "purpose": "RECEIPT"}}}
        ),
        "map": json.dumps({"0": ["variables.input.file"]}),
    }
    request = httpx.Request(
        "POST",
        "http://t/graphql",
        data=form,
        files={"0": ("big.jpg", big, "image/jpeg")},
        headers={"Authorization": f"Bearer {token}", "GraphQL-Preflight": "1"},
    )
    status, body, pulled, total = await call_in_chunks(app, request)
    payload = body["data"]["uploadMedia"]
    assert status == 200 and payload["errors"][0]["code"] == "FILE_TOO_LARGE"
    assert total > 1_000_000 and pulled < 100_000  # it stopped reading just past the limit
    assert await Media.all().count() == 0
    assert stored_files(small) == []


async def test_multipart_without_the_preflight_header_is_refused(client, gql, demo, settings):
    response = await upload(client, await gql.login(CLERK), media_files.PDF, preflight=False)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["reason"] == "CSRF_PREFLIGHT_REQUIRED"
    assert await Media.all().count() == 0 and stored_files(settings) == []


async def test_who_may_upload_what(client, gql, demo):
    photo = media_files.phone_jpeg()
    anonymous = (await upload(client, None, photo)).json()
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    villager = await gql.login(VILLAGER)
    assert error_codes((await upload(client, villager, photo)).json()) == ["FORBIDDEN"]
    evidence = await uploaded(client, villager, photo, purpose="EVIDENCE")
    assert evidence["errors"] == []
    other_village = to_global_id("Region", demo.villages[5].id)
    body = await upload(client, villager, photo, purpose="EVIDENCE", region_id=other_village)
    assert error_codes(body.json()) == ["FORBIDDEN"]
    clerk = await gql.login(CLERK)
    body = await upload(client, clerk, photo, region_id=other_village)
    assert error_codes(body.json()) == ["FORBIDDEN"]
    official = await gql.login(OFFICIAL)
    township_photo = await uploaded(client, official, photo, purpose="NOTICE_BOARD")
    assert township_photo["media"]["region"]["name"] == "东溪镇"


async def test_the_same_photo_is_stored_once(client, gql, demo, settings):
    photo = media_files.phone_jpeg()
    clerk = await gql.login(CLERK)
    first = (await uploaded(client, clerk, photo))["media"]
    retry = (await uploaded(client, clerk, photo))["media"]
    assert retry["id"] == first["id"]
    other = (await uploaded(client, await gql.login(SUPERVISOR), photo))["media"]
    assert other["id"] != first["id"] and other["sha256"] == first["sha256"]
    assert await Media.all().count() == 2
    assert len(stored_files(settings)) == 3  # original, medium, thumbnail: once


async def test_uploads_count_against_a_daily_quota(app, client, gql, demo, settings, monkeypatch):
    one, two = media_files.phone_jpeg(orientation=1), media_files.phone_jpeg(orientation=3)
    tight = settings.with_overrides(media_daily_quota_bytes=len(one) + len(two) - 1)
    monkeypatch.setattr(app.state.services, "settings", tight)
    token = await gql.login(CLERK)
    first = (await upload(client, token, one)).json()
    second = (await upload(client, token, two)).json()
    assert first["data"]["uploadMedia"]["errors"] == []
    assert second["data"]["uploadMedia"]["errors"][0]["code"] == "QUOTA_EXCEEDED"
    assert await Media.all().count() == 1


async def test_redaction_blacks_out_every_variant_and_hides_the_original(client, gql, demo):
    clerk = await gql.login(CLERK)
    receipt = media_files.phone_jpeg(orientation=1, size=(800, 600))
    source = (await uploaded(client, clerk, receipt))["media"]
    rect = {"x": 100, "y": 100, "w": 300, "h": 200}
    payload = await gql.mutate(
        "redactMedia", REDACT, {"mediaId": source["id"], "rectangles": [rect]}, token=clerk
    )
    assert payload["errors"] == [] and payload["media"]["redacted"] is True
    redacted = payload["media"]
    _, original = await fetch_image(client, redacted["url"])
    assert original.getpixel((250, 200)) == (0, 0, 0) or max(original.getpixel((250, 200))) < 10
    assert max(original.getpixel((600, 500))) > 200  # outside the rectangle: untouched
    for url, scale in [(redacted["mediumUrl"], 800 / 800), (redacted["thumbnailUrl"], 320 / 800)]:
        _, img = await fetch_image(client, url)
        assert max(img.getpixel((int(250 * scale), int(200 * scale)))) < 20

    # The unredacted file: no longer public; staff get a signed, private URL.
    plain = await client.get(source["url"].split("?")[0])
    assert plain.status_code == 404
    villager = await gql.login(VILLAGER)
    body = await gql(MEDIA_NODE, {"id": source["id"]}, token=villager)
    assert error_codes(body) == ["NOT_FOUND"]  # like a missing id
    assert error_codes(await gql(MEDIA_NODE, {"id": source["id"]})) == ["NOT_FOUND"]
    for phone in (CLERK, SUPERVISOR, OFFICIAL):
        node = await gql.data(MEDIA_NODE, {"id": source["id"]}, token=await gql.login(phone))
        assert node["node"]["restricted"] is True and "sig=" in node["node"]["url"]
    signed = await client.get(node["node"]["url"])
    assert signed.status_code == 200 and signed.headers["cache-control"].startswith("private")
    tampered = node["node"]["url"].replace("sig=", "sig=0")
    assert (await client.get(tampered)).status_code == 404
    # The redacted copy is public once attached to something published.
    assert error_codes(await gql(MEDIA_NODE, {"id": redacted["id"]})) == ["NOT_FOUND"]
    await mark_attached([int(from_global_id(redacted["id"])[1])])
    public = await gql.data(MEDIA_NODE, {"id": redacted["id"]})
    assert public["node"]["restricted"] is False and "sig=" not in public["node"]["url"]


async def test_redaction_is_for_village_staff_and_checks_its_input(client, gql, demo):
    clerk = await gql.login(CLERK)
    source = (await uploaded(client, clerk, media_files.phone_jpeg(orientation=1)))["media"]
    rect = {"x": 0, "y": 0, "w": 10, "h": 10}
    for phone in (VILLAGER, "13800000002"):
        body = await gql(
            REDACT,
            {"input": {"mediaId": source["id"], "rectangles": [rect]}},
            token=await gql.login(phone),
        )
        assert error_codes(body) == ["FORBIDDEN"], phone
    for rects in ([], [{"x": 350, "y": 0, "w": 100, "h": 10}], [{"x": 0, "y": 0, "w": 0, "h": 5}]):
        payload = await gql.mutate(
            "redactMedia", REDACT, {"mediaId": source["id"], "rectangles": rects}, token=clerk
        )
        assert payload["errors"] == [{"code": "INVALID_RECTANGLE", "field": "rectangles"}]
    pdf = (await uploaded(client, clerk, media_files.PDF, purpose="DOCUMENT"))["media"]
    payload = await gql.mutate(
        "redactMedia", REDACT, {"mediaId": pdf["id"], "rectangles": [rect]}, token=clerk
    )
    assert payload["errors"] == [{"code": "NOT_AN_IMAGE", "field": "mediaId"}]
    assert await Media.all().count() == 2


async def test_orphans_are_deleted_after_a_day_with_their_files(app, client, gql, demo, settings):
    clerk = await gql.login(CLERK)
    orphan = (await uploaded(client, clerk, media_files.phone_jpeg(orientation=1)))["media"]
    kept = (await uploaded(client, clerk, media_files.phone_jpeg(orientation=3)))["media"]
    fresh = (await uploaded(client, clerk, media_files.phone_jpeg(orientation=8)))["media"]
    await mark_attached([int(_pk(kept["id"]))])
    await Media.filter(id__in=[_pk(orphan["id"]), _pk(kept["id"])]).update(
        created_at=datetime.now(UTC) - timedelta(hours=25)
    )
    assert len(stored_files(settings)) == 9
    deleted = await delete_orphans(app.state.services.media)
    assert deleted == 1
    assert sorted(m.id for m in await Media.all()) == sorted([_pk(kept["id"]), _pk(fresh["id"])])
    assert len(stored_files(settings)) == 6
    assert (await client.get(orphan["url"])).status_code == 404


def _pk(global_id: str) -> int:
    from api.relay import from_global_id

    return int(from_global_id(global_id)[1])


async def test_uploads_are_rate_limited_per_user(app, client, gql, demo, settings, monkeypatch):
    monkeypatch.setattr(
        app.state.services, "settings", settings.with_overrides(media_uploads_per_hour=2)
    )
    token = await gql.login(CLERK)
    for orientation in (1, 3):
        ok = (await upload(client, token, media_files.phone_jpeg(orientation=orientation))).json()
        assert ok["data"]["uploadMedia"]["errors"] == []
    limited = (await upload(client, token, media_files.phone_jpeg(orientation=6))).json()
    assert error_codes(limited) == ["RATE_LIMITED"]
    assert await Media.all().count() == 2
