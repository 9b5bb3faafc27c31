"""Real image and PDF bytes for the media tests, made with Pillow."""

from __future__ import annotations

import io

from PIL import Image

GPS_IFD = 0x8825
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>secret-location</rdf:RDF></x:xmpmeta>'


def two_tone(size=(400, 300)) -> Image.Image:
    """Left half red, right half blue: after orientation 6 red is on top."""
    img = Image.new("RGB", size, (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    return img


def phone_jpeg(orientation: int = 6, size=(400, 300), quality: int = 92) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", (30.0, 15.0, 7.5), "E", (120.0, 9.0, 3.2)
    out = io.BytesIO()
    two_tone(size).save(
        out, "JPEG", quality=quality, exif=exif.tobytes(), comment=b"shot at home", xmp=XMP
    )
    return out.getvalue()


def png_with_alpha(size=(200, 100)) -> bytes:
    img = Image.new("RGBA", size, (0, 128, 0, 255))
    img.paste((0, 0, 0, 0), (0, 0, size[0] // 2, size[1]))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def webp(size=(300, 200)) -> bytes:
    out = io.BytesIO()
    two_tone(size).save(out, "WEBP", quality=80)
    return out.getvalue()


def heic(size=(320, 240)) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    two_tone(size).save(out, "HEIF", quality=80)
    return out.getvalue()


def pixel_bomb() -> bytes:
    """A tiny PNG that would decode to 144 million pixels."""
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG", optimize=True)
    return out.getvalue()


PDF = (  # one empty A4 page
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


def pdf(n: int = 0) -> bytes:
    """A one-page PDF, a different page size for each `n` (so a different clean file)."""
    return PDF.replace(b"595 842", f"595 {842 + n}".encode())


def noisy_jpeg(size=(1600, 1200)) -> bytes:
    """Sensor noise compresses badly: a big file from a small image."""
    out = io.BytesIO()
    Image.effect_noise(size, 80).convert("RGB").save(out, "JPEG", quality=98)
    return out.getvalue()
