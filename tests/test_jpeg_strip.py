"""The lossless JPEG clean-up drops every metadata segment and keeps every pixel."""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageCms

from media import jpeg
from tests import media_files

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def markers(data: bytes) -> list[int]:
    """The markers before the first scan."""
    found, i = [], 2
    while i < len(data):
        marker = data[i + 1]
        found.append(marker)
        if marker == 0xDA:
            break
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return found


def loaded_jpeg(data: bytes) -> bytes:
    """The JPEG with IPTC, a comment, an MPF index, an ICC profile and a trailer added."""
    extra = (
        segment(0xED, b"Photoshop 3.0\x008BIM iptc-city")
        + segment(0xFE, b"camera owner: Zhang San")
        + segment(0xE2, b"MPF\x00" + b"\x00" * 16)
        + segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + SRGB)
        + segment(0xE5, b"vendor-private")
    )
    return data[:2] + extra + data[2:] + b"\xff\xd8 second embedded image \xff\xd9 trailer"


def test_metadata_segments_and_trailers_are_dropped():
    plain = media_files.phone_jpeg(orientation=8)
    clean = jpeg.strip_metadata(loaded_jpeg(plain), orientation=8)
    kept = markers(clean)
    assert 0xED not in kept and 0xFE not in kept and 0xE5 not in kept
    assert kept.count(0xE1) == 1  # only the minimal EXIF
    assert clean.endswith(b"\xff\xd9") and b"trailer" not in clean
    assert b"Zhang San" not in clean and b"iptc-city" not in clean and b"MPF\x00" not in clean
    assert b"secret-location" not in clean and b"shot at home" not in clean
    assert b"ICC_PROFILE" in clean and SRGB in clean  # colour, not metadata
    img = Image.open(io.BytesIO(clean))
    assert dict(img.getexif()) == {0x0112: 8}
    assert not img.getexif().get_ifd(0x8825)
    assert img.convert("RGB").tobytes() == Image.open(io.BytesIO(plain)).convert("RGB").tobytes()


def test_upright_photos_get_no_exif_at_all():
    clean = jpeg.strip_metadata(media_files.phone_jpeg(orientation=1), orientation=1)
    assert 0xE1 not in markers(clean)
    assert dict(Image.open(io.BytesIO(clean)).getexif()) == {}


def test_progressive_jpegs_keep_all_their_scans():
    out = io.BytesIO()
    media_files.two_tone((640, 480)).save(out, "JPEG", progressive=True, comment=b"note")
    data = out.getvalue()
    clean = jpeg.strip_metadata(data)
    assert b"note" not in clean
    assert clean.count(b"\xff\xda") == data.count(b"\xff\xda") > 1
    assert Image.open(io.BytesIO(clean)).tobytes() == Image.open(io.BytesIO(data)).tobytes()


def test_an_app2_icc_prefix_that_is_no_standard_profile_is_dropped():
    plain = media_files.phone_jpeg(orientation=1)
    for body in (
        b"\x00" * 32,  # too short for a profile header
        "村民 13800000006".encode(),  # arbitrary text behind the prefix
        SRGB[:100] + b"secret" + SRGB[106:],  # a header that is no profile's
        SRGB + b"hidden text after the tags",  # bytes outside every tag
    ):
        data = plain[:2] + segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + body) + plain[2:]
        clean = jpeg.strip_metadata(data)
        assert b"ICC_PROFILE" not in clean, body[:20]
    two = [SRGB[:300], SRGB[300:]]
    data = plain[:2]
    for n, chunk in enumerate(two, start=1):
        data += segment(0xE2, b"ICC_PROFILE\x00" + bytes([n, 2]) + chunk)
    clean = jpeg.strip_metadata(data + plain[2:])
    assert Image.open(io.BytesIO(clean)).info["icc_profile"] == SRGB  # chunked: kept whole
