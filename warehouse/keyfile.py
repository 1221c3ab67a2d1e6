"""A secret key in a file of its own: outside the data folder, readable by its owner only.

The notification index holds keyed fingerprints of receipt numbers; its key must not sit beside it, or a
copy of the data folder would be a copy of both. When the config names no key, the first run makes one
here and the index records which (a random reference, not the key), so a night finds it again, a copy
of the data folder finds it too on this machine, and a new key only ever costs one rebuild."""
from __future__ import annotations

import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from warehouse.errors import WarehouseError

REF = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class KeyFile:
    ref: str
    key: str
    path: Path
    created: bool
    shared: bool       # readable by others than its owner: worth a warning


def load_or_create(folder: Path, ref: str | None) -> KeyFile:
    """The key `ref` names in `folder`, or a new one (with a new reference) when there is none."""
    if ref is not None and REF.fullmatch(ref):
        path = folder / f"{ref}.key"
        try:
            key = path.read_text("ascii").strip()
        except FileNotFoundError:
            key = ""
        except (OSError, UnicodeDecodeError) as exc:
            raise WarehouseError(f"指紋の鍵ファイル {path} を読めません ({type(exc).__name__})",
                                 "ファイルの権限を確認してください（消すと次の実行で作り直し、索引を一度組み直します）"
                                 ) from None
        if key:
            return KeyFile(ref, key, path, False, bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)))
    return _create(folder)


def _create(folder: Path) -> KeyFile:
    ref = secrets.token_hex(16)
    path = folder / f"{ref}.key"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_EXCL with mode 0600: the key is never, even for a moment, in a file others can read.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
    except OSError as exc:
        raise WarehouseError(f"指紋の鍵を保存できません: {folder} ({type(exc).__name__})",
                             "fingerprint_key_dir を書き込めるフォルダにするか、fingerprint_key_env か "
                             "fingerprint_key_secret で鍵を渡してください") from None
    return KeyFile(ref, path.read_text("ascii").strip(), path, True, False)
