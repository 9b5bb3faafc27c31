"""Lossless JPEG clean-up: drop metadata segments without re-encoding a single pixel.

Kept: APP0 (JFIF), APP2 ICC_PROFILE (colour) when its chunks form one well-formed
standard ICC profile, APP14 (Adobe colour transform) and every segment the decoder needs.
Dropped: APP1 (EXIF, XMP), APP13 (IPTC/Photoshop), COM, APP2 MPF, any other or malformed
APP2 (arbitrary text behind an `ICC_PROFILE` prefix) and all other APPn, and anything
after the end-of-image marker (a second embedded image, vendor trailers). The orientation
survives as a minimal EXIF with only that one tag, so no other metadata — GPS above all —
can remain.
"""

from __future__ import annotations

import struct

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
STANDALONE = {0x01, *range(0xD0, 0xD8)}
APP0, APP2, APP14 = 0xE0, 0xE2, 0xEE


class NotAJpeg(ValueError):
    pass


def minimal_exif(orientation: int) -> bytes:
    """An APP1 segment holding a big-endian TIFF with a single tag: Orientation."""
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + b"\x00\x00\x00\x00"
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


ICC_PREFIX = b"ICC_PROFILE\x00"
# ICC.1 profile classes and data colour spaces a photo's profile may declare.
ICC_CLASSES = {b"scnr", b"mntr", b"prtr", b"link", b"spac", b"abst", b"nmcl"}
ICC_SPACES = {b"RGB ", b"GRAY", b"CMYK", b"YCbr", b"Lab ", b"XYZ ", b"CMY ", b"HSV ", b"HLS "}
ICC_TAGS_MAX = 100


def standard_icc(chunks: list[bytes]) -> bool:
    """Whether the APP2 `ICC_PROFILE` chunks (bodies, in file order) are one complete, well
    formed ICC profile: numbered 1..n of n, the declared size, the `acsp` signature, a known
    class and colour space, zero reserved header bytes, and a tag table whose tags all lie
    inside the profile without gaps that could carry other bytes. Anything else is arbitrary
    data in APP2: dropped. (Text inside a standard tag, a description say, is not caught.)"""
    if not chunks or len(chunks) > 255:
        return False
    count = len(chunks)
    for number, body in enumerate(chunks, start=1):
        if len(body) < 14 or body[12] != number or body[13] != count:
            return False
    profile = b"".join(body[14:] for body in chunks)
    if len(profile) < 132 or struct.unpack(">I", profile[:4])[0] != len(profile):
        return False
    if profile[36:40] != b"acsp" or profile[12:16] not in ICC_CLASSES:
        return False
    if profile[16:20] not in ICC_SPACES or any(profile[100:128]):  # reserved: zero
        return False
    tags = struct.unpack(">I", profile[128:132])[0]
    if tags > ICC_TAGS_MAX or 132 + 12 * tags > len(profile):
        return False
    end = 132 + 12 * tags
    spans = []
    for t in range(tags):
        offset, size = struct.unpack(">II", profile[136 + 12 * t : 144 + 12 * t])
        if offset < end or offset + size > len(profile):
            return False
        spans.append((offset, offset + size))
    covered = end  # every byte after the tag table belongs to a tag (4-byte padding aside)
    for start, stop in sorted(set(spans)):
        if start - covered > 3:
            return False
        covered = max(covered, stop)
    return len(profile) - covered <= 3


def keep_segment(marker: int, body: bytes) -> bool:
    if 0xE0 <= marker <= 0xEF:
        return marker in (APP0, APP14)  # APP2 ICC profiles are judged as a whole, below
    return marker != 0xFE  # COM


def strip_metadata(data: bytes, orientation: int = 1) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise NotAJpeg("no SOI marker")
    out = [b"\xff\xd8"]
    exif = minimal_exif(orientation) if orientation != 1 else b""
    icc: list[bytes] = []  # APP2 ICC_PROFILE chunk bodies, kept only if standard
    icc_at: int | None = None
    i, n = 2, len(data)
    while i < n:
        if data[i] != 0xFF:
            raise NotAJpeg(f"expected a marker at byte {i}")
        marker = data[i + 1] if i + 1 < n else EOI
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == EOI:
            out.append(b"\xff\xd9")
            if icc_at is not None and standard_icc(icc):
                segments = [b"\xff\xe2" + struct.pack(">H", len(b) + 2) + b for b in icc]
                out[icc_at:icc_at] = segments
            return b"".join(out)
        if marker in STANDALONE:
            out.append(data[i : i + 2])
            i += 2
            continue
        if i + 4 > n:
            raise NotAJpeg("truncated segment header")
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        end = i + 2 + length
        if end > n:
            raise NotAJpeg("truncated segment")
        body = data[i + 4 : end]
        if marker == APP2 and body.startswith(ICC_PREFIX):
            if icc_at is None:
                icc_at = len(out)
            icc.append(body)
        elif keep_segment(marker, body):
            out.append(data[i:end])
        if exif and marker == APP0:  # EXIF goes right after JFIF
            out.append(exif)
            exif = b""
        if marker != SOS:
            i = end
            continue
        # Entropy-coded data runs until a marker that is neither stuffing nor a restart.
        j = end
        while True:
            j = data.find(b"\xff", j)
            if j < 0 or j + 1 >= n:
                raise NotAJpeg("no end-of-image marker")
            following = data[j + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                j += 1 if following == 0xFF else 2
                continue
            break
        if exif:  # no APP0: put EXIF before the first scan's data is too late; keep order
            out.insert(1, exif)
            exif = b""
        out.append(data[end:j])
        i = j
    raise NotAJpeg("no end-of-image marker")
