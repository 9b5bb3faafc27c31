"""Where files live, behind a small interface: local files now, an S3-compatible store later.

Keys are `<sha[:2]>/<sha>/<variant>`; writes go to a temporary file and are renamed into
place, so a reader never sees half a file and a crash leaves no partial one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

import anyio.to_thread


def media_key(sha256: str, variant: str) -> str:
    return f"{sha256[:2]}/{sha256}/{variant}"


class Storage(Protocol):
    async def exists(self, key: str) -> bool: ...
    async def put(self, key: str, data: bytes) -> None: ...
    async def delete(self, key: str) -> None: ...
    def local_path(self, key: str) -> Path | None: ...


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key escapes the media root: {key}")
        return path

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    async def put(self, key: str, data: bytes) -> None:
        await anyio.to_thread.run_sync(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        for parent in (path.parent, path.parent.parent):
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break

    def local_path(self, key: str) -> Path | None:
        return self._path(key)
