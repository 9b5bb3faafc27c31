"""Benchmark the media pipeline against the plain approach: `python -m scripts.bench_media`.

Makes realistic 4000×3000 phone JPEGs (texture, sensor noise, EXIF orientation and GPS),
then in the same run times:
- the pipeline (media.processing.process: DCT-scaled decode, lossless clean original),
- the plain approach (full decode, transpose, resize and save each variant).
Prints photos/s of each, the ratio and the median bytes of each variant.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from media.processing import MEDIUM_SIDE, ORIGINAL_SIDE, THUMB_SIDE, process

MAX_PIXELS = 100_000_000


def phone_photo(seed: int, size: tuple[int, int] = (4000, 3000)) -> bytes:
    """A photo-like JPEG: shapes and gradients, fine texture and noise, EXIF with GPS."""
    rng = random.Random(seed)
    w, h = size
    small = Image.new("RGB", (w // 4, h // 4))
    draw = ImageDraw.Draw(small)
    for y in range(small.height):  # sky-to-ground gradient
        t = y / small.height
        draw.line(
            (0, y, small.width, y), fill=(int(90 + 120 * t), int(140 + 60 * t), int(200 - 120 * t))
        )
    for _ in range(1500):  # objects, leaves, bricks, people: detail at every scale
        x0, y0 = rng.randrange(small.width), rng.randrange(small.height)
        x1, y1 = x0 + rng.randrange(3, 120), y0 + rng.randrange(3, 90)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    img = small.resize(size, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(1))
    texture = Image.effect_noise(size, 24).convert("RGB")
    img = Image.blend(img, texture, 0.12)
    draw = ImageDraw.Draw(img)
    for _ in range(120):  # printed text-like strokes on a receipt
        x, y = rng.randrange(w), rng.randrange(h)
        draw.line(
            (x, y, x + rng.randrange(40, 400), y), fill=(20, 20, 20), width=rng.randrange(2, 6)
        )
    exif = Image.Exif()
    exif[0x0112] = rng.choice([1, 6, 8, 3])
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (30.0, 15.0, 7.5), "E", (120.0, 9.0, 3.2)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def plain(data: bytes) -> dict[str, bytes]:
    """The straightforward way: decode everything, resize from full size for each variant."""
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    img = img.convert("RGB")
    out = {}
    for name, side, fmt, options in [
        ("thumb.webp", THUMB_SIDE, "WEBP", {"quality": 60}),
        ("medium.webp", MEDIUM_SIDE, "WEBP", {"quality": 68}),
        ("original.jpg", ORIGINAL_SIDE, "JPEG", {"quality": 88}),
    ]:
        variant = img.copy()
        variant.thumbnail((side, side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        variant.save(buf, fmt, **options)
        out[name] = buf.getvalue()
    return out


def timed(fn, photos: list[bytes]) -> tuple[float, list[dict[str, bytes]]]:
    started = time.perf_counter()
    results = [fn(p) for p in photos]
    return len(photos) / (time.perf_counter() - started), results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=8)
    args = parser.parse_args()
    print(f"making {args.photos} photos of 4000×3000 …")
    photos = [phone_photo(seed) for seed in range(args.photos)]
    print(f"median upload: {statistics.median(len(p) for p in photos) / 1e6:.2f} MB")
    process(photos[0], MAX_PIXELS)  # warm up both paths
    plain(photos[0])
    pipeline_rate, processed = timed(lambda p: process(p, MAX_PIXELS).variants, photos)
    plain_rate, plain_out = timed(plain, photos)
    print(f"pipeline: {pipeline_rate:6.2f} photos/s")
    print(f"plain:    {plain_rate:6.2f} photos/s")
    print(f"ratio:    {pipeline_rate / plain_rate:6.2f}× (goal ≥ 3×)")
    for name, goal in [("thumb.webp", 25_000), ("medium.webp", 150_000), ("original.jpg", None)]:
        ours = statistics.median(len(v[name]) for v in processed)
        theirs = statistics.median(len(v[name]) for v in plain_out)
        note = f" (goal ≤ {goal // 1000} KB)" if goal else ""
        sizes = f"pipeline {ours / 1000:8.1f} KB   plain {theirs / 1000:8.1f} KB"
        print(f"median {name:13s} {sizes}{note}")


if __name__ == "__main__":
    main()
