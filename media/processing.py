"""Turn uploaded bytes into safe variants. Pure and synchronous: callers run it in a thread.

Every refusal is a MediaRejected with its code. Images come out with their orientation
applied and no metadata: a thumbnail and a medium WebP, and a clean original JPEG.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFile, ImageOps

from media import jpeg, pdf
from models.errors import ErrorCode

THUMB_SIDE = 320
MEDIUM_SIDE = 1280
ORIGINAL_SIDE = 4096
THUMB_QUALITY = 60
MEDIUM_QUALITY = 68
JPEG_QUALITY = 88
WEBP_METHOD = 2  # 2.5× faster than the default 4 for a few % more bytes
RESAMPLE = Image.Resampling.HAMMING  # antialiased like LANCZOS at a third of the cost

try:  # HEIC/HEIF from iPhones, only when pillow-heif is installed
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - depends on the installation
    HEIF = False

# PNG, WebP and HEIC decode at full size (JPEG decodes reduced, see make_variants): at four
# bytes a pixel this cap keeps one decode under 100 MB, so two concurrent uploads fit in a few
# hundred. It admits a 24-megapixel phone photo (5712×4284) and refuses before decoding.
FULL_DECODE_MAX_PIXELS = 25_000_000
REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "I", "F")

PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heif": "HEIF"}


class MediaRejected(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Processed:
    kind: str  # IMAGE or PDF
    mime_type: str  # of the uploaded file
    width: int | None = None
    height: int | None = None
    placeholder: str | None = None  # dominant colour, #rrggbb
    variants: dict[str, bytes] = field(default_factory=dict)  # name -> bytes


def sniff(head: bytes) -> str | None:
    """The real type, from the first bytes: never from a file name or a client's header."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in (
        b"heic",
        b"heix",
        b"heim",
        b"heis",
        b"mif1",
        b"msf1",
    ):
        return "heif"
    if head.startswith(b"%PDF-"):
        return "pdf"
    return None


MIME = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "heif": "image/heif",
    "pdf": "application/pdf",
}


def process(data: bytes, max_pixels: int) -> Processed:
    kind = sniff(data[:16])
    if kind is None or (kind == "heif" and not HEIF):
        raise MediaRejected(ErrorCode.UNSUPPORTED_MEDIA_TYPE)
    if kind == "pdf":
        return process_pdf(data)
    return process_image(data, kind, max_pixels)


def process_pdf(data: bytes) -> Processed:
    # A PDF without its end marker was cut off in transit. The rest is rewritten without
    # document metadata, XMP, JavaScript, embedded files or actions (media/pdf.py).
    if b"%%EOF" not in data[-2048:]:
        raise MediaRejected(ErrorCode.CORRUPT_FILE)
    try:
        clean = pdf.clean_pdf(data)
    except pdf.NotAPdf:
        raise MediaRejected(ErrorCode.CORRUPT_FILE) from None
    return Processed(kind="PDF", mime_type=MIME["pdf"], variants={"original.pdf": clean})


def open_image(data: bytes, kind: str, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[PIL_FORMATS[kind]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaRejected(ErrorCode.IMAGE_TOO_LARGE) from None
    except (OSError, SyntaxError, ValueError):
        raise MediaRejected(ErrorCode.CORRUPT_FILE) from None
    width, height = img.size
    if kind != "jpeg":
        max_pixels = min(max_pixels, FULL_DECODE_MAX_PIXELS)
    if width * height > max_pixels or width < 1 or height < 1:
        img.close()
        raise MediaRejected(ErrorCode.IMAGE_TOO_LARGE)
    return img


DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
)


def process_image(data: bytes, kind: str, max_pixels: int) -> Processed:
    Image.MAX_IMAGE_PIXELS = max_pixels  # open_image checks first; this guards decoders
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    img = open_image(data, kind, max_pixels)
    try:
        return make_variants(data, img, kind, max_pixels)
    except DECODE_ERRORS:
        raise MediaRejected(ErrorCode.CORRUPT_FILE) from None
    finally:
        img.close()


def make_variants(data: bytes, img: Image.Image, kind: str, max_pixels: int) -> Processed:
    orientation = img.getexif().get(0x0112, 1)
    orientation = orientation if orientation in range(1, 9) else 1
    width, height = img.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    longest = max(width, height)
    if kind == "jpeg":
        # DCT scaling: decode at the smallest 1/2, 1/4, 1/8 that still covers the medium.
        scale = min(1.0, MEDIUM_SIDE / longest)
        img.draft("RGB", (max(1, int(img.size[0] * scale)), max(1, int(img.size[1] * scale))))
    img.load()
    source = reduced(img)
    # exif_transpose copies even an upright image: only turn what needs turning.
    base = to_rgb(ImageOps.exif_transpose(source) if orientation != 1 else source)
    if base is not img:
        img.close()  # the decoded pixels are not needed past this point
    medium = shrunk(base, MEDIUM_SIDE, RESAMPLE, 2.0)
    thumb = shrunk(medium, THUMB_SIDE, RESAMPLE, 2.0)
    variants = {
        "thumb.webp": encode(thumb, "WEBP", quality=THUMB_QUALITY, method=WEBP_METHOD),
        "medium.webp": encode(medium, "WEBP", quality=MEDIUM_QUALITY, method=WEBP_METHOD),
        "original.jpg": clean_original(data, kind, orientation, longest, base, max_pixels),
    }
    return Processed(
        kind="IMAGE",
        mime_type=MIME[kind],
        width=width,
        height=height,
        placeholder=dominant_colour(thumb),
        variants=variants,
    )


def clean_original(
    data: bytes, kind: str, orientation: int, longest: int, base: Image.Image, max_pixels: int
) -> bytes:
    if kind == "jpeg" and longest <= ORIGINAL_SIDE:
        try:
            return jpeg.strip_metadata(data, orientation)  # lossless: no pixel is re-encoded
        except jpeg.NotAJpeg:
            raise MediaRejected(ErrorCode.CORRUPT_FILE) from None
    if kind == "jpeg":
        # `base` was decoded at a reduced scale: decode again, large enough for the original.
        full = open_image(data, kind, max_pixels)
        try:
            scale = min(1.0, ORIGINAL_SIDE / longest)
            full.draft("RGB", (int(full.size[0] * scale), int(full.size[1] * scale)))
            full.load()
            base = to_rgb(ImageOps.exif_transpose(full))
        except OSError:
            raise MediaRejected(ErrorCode.CORRUPT_FILE) from None
        finally:
            full.close()
    original = shrunk(base, ORIGINAL_SIDE, Image.Resampling.LANCZOS, 3.0)
    return encode(original, "JPEG", quality=JPEG_QUALITY, optimize=True)


def reduced(img: Image.Image) -> Image.Image:
    """A decoded image larger than twice the original variant, reduced by an integer factor
    (box averaging, cheap) so that it still covers ORIGINAL_SIDE, and the full-size pixels
    released at once: nothing after this holds more than a quarter of them."""
    factor = max(img.size) // ORIGINAL_SIDE
    if factor < 2:
        return img
    source = img if img.mode in REDUCIBLE_MODES else to_rgb(img)
    small = source.reduce(factor)
    small.info = dict(img.info)
    small.getexif().update(img.getexif())  # orientation, applied by exif_transpose next
    if source is not img:
        source.close()
    img.close()  # frees the full-size pixels; the caller's close() is then a no-op
    return small


def shrunk(img: Image.Image, side: int, resample: Image.Resampling, gap: float) -> Image.Image:
    """`img` fitted within side×side like Image.thumbnail, without first copying it whole."""
    if max(img.size) <= side:
        return img
    out = img.resize(thumbnail_size(img.size, side), resample, reducing_gap=gap)
    return out


def thumbnail_size(size: tuple[int, int], side: int) -> tuple[int, int]:
    """The size Image.thumbnail((side, side)) gives an image of `size` (its rounding)."""
    width, height = size
    x, y = side, side
    aspect = width / height
    if x / y >= aspect:
        candidates = (math.floor(y * aspect), math.ceil(y * aspect))
        x = max(min(candidates, key=lambda n: abs(aspect - n / y)), 1)
    else:
        candidates = (math.floor(x / aspect), math.ceil(x / aspect))
        y = max(min(candidates, key=lambda n: 0 if n == 0 else abs(aspect - x / n)), 1)
    return x, y


def to_rgb(img: Image.Image) -> Image.Image:
    """Flatten transparency onto white; phones show receipts on white anyway."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img if img.mode == "RGBA" else img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB")


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    # A fresh image carries no info dict: nothing (EXIF, XMP, ICC, comments) is written.
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def dominant_colour(img: Image.Image) -> str:
    pixel = img.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(pixel, tuple)  # RGB after the conversion above
    r, g, b = pixel[:3]
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


def redact(original_jpeg: bytes, rectangles: list[Rect], max_pixels: int) -> Processed:
    """Black out rectangles (in the oriented image's pixels) and make every variant anew."""
    img = open_image(original_jpeg, "jpeg", max_pixels)
    try:
        img.load()
        base = to_rgb(ImageOps.exif_transpose(img))
    finally:
        img.close()
    if base is img:
        base = base.copy()
    draw = ImageDraw.Draw(base)
    for r in rectangles:
        draw.rectangle((r.x, r.y, r.x + r.w - 1, r.y + r.h - 1), fill=(0, 0, 0))
    return process(encode(base, "JPEG", quality=JPEG_QUALITY), max_pixels)
