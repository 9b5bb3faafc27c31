"""Lossless JPEG clean-up: drop metadata segments without re-encoding a single pixel.

Kept: APP0 (JFIF), APP2 ICC_PROFILE (colour), APP14 (Adobe colour transform) and every
segment the decoder needs. Dropped: APP1 (EXIF, XMP), APP13 (IPTC/Photoshop), COM,
APP2 MPF and all other APPn, and anything after the end-of-image marker (a second
embedded image, vendor trailers). The orientation survives as a minimal EXIF with only
that one tag, so no other metadata — GPS above all — can remain.
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


def keep_segment(marker: int, body: bytes) -> bool:
    if 0xE0 <= marker <= 0xEF:
        if marker == APP2:
            return body.startswith(b"ICC_PROFILE\x00")
        return marker in (APP0, APP14)
    return marker != 0xFE  # COM


def strip_metadata(data: bytes, orientation: int = 1) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise NotAJpeg("no SOI marker")
    out = [b"\xff\xd8"]
    exif = minimal_exif(orientation) if orientation != 1 else b""
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
        if keep_segment(marker, data[i + 4 : end]):
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
