"""Reading the TOML files people write (the config, policy catalogs), with errors they can act on."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from jisseki.core.errors import ConfigError


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file as a dict, or a ConfigError in Japanese that names the file (and the line, when TOML
    itself is broken)."""
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} がありません", "パスを確認してください") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} はフォルダです", "TOML ファイルを指定してください") from None
    except PermissionError:
        raise ConfigError(f"{what} {path} を読む権限がありません") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} が UTF-8 ではありません", "UTF-8 で保存し直してください") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's text is English; where it points is what the reader needs.
        at = re.search(r"line (\d+), column (\d+)", str(exc))
        where = f"（{at[1]} 行目 {at[2]} 文字目あたり）" if at else ""
        raise ConfigError(f"{what} {path} は TOML として正しくありません{where}",
                          "引用符、= 、[セクション] の書き方を確認してください") from None
