"""A source's secrets, read when its run starts: an API token, a database URL, the moving-out index's fingerprint
key."""
from __future__ import annotations

from connectors.errors import SourceConfigError
from jisseki.core.imports import heavy
from jisseki.declared.spec import Declared, RestSource, SqlSource
from jisseki.source_config import MoveoutSourceConfig


def declared_secret(cfg: Declared) -> str | None:
    """A declared source's secret: a SQL source's database URL, a REST API's token (None when it declares none)."""
    if isinstance(cfg, SqlSource):
        env, block, value = cfg.url_env, cfg.url_secret, cfg.url
    elif isinstance(cfg, RestSource):
        env, block, value = cfg.token_env, cfg.token_secret, cfg.token
    else:
        return None
    if block:
        return _secret_block(block)
    if env is None:
        return None
    if value is None:
        raise SourceConfigError(f"環境変数 {env} が設定されていません",
                                "その環境変数を設定してから実行し直してください（秘密の値は設定ファイルに書きません）")
    return value.get_secret_value()


def fingerprint_key(cfg: MoveoutSourceConfig) -> str | None:
    """The key of the notification index's fingerprints, or None (then nothing is kept between runs)."""
    if cfg.fingerprint_key_secret:
        return _secret_block(cfg.fingerprint_key_secret)
    if cfg.fingerprint_key_env and cfg.fingerprint_key is None:
        raise SourceConfigError(f"環境変数 {cfg.fingerprint_key_env} に指紋の鍵が設定されていません")
    return cfg.fingerprint_key.get_secret_value() if cfg.fingerprint_key else None


def _secret_block(name: str) -> str:
    secret = heavy("prefect.blocks.system").Secret
    try:
        return str(secret.load(name).get())
    except (ValueError, RuntimeError) as exc:
        raise SourceConfigError(f"Prefect Secret ブロック {name!r} を読めません ({type(exc).__name__})",
                                "その名前の Secret ブロックがあるか、PREFECT_API_URL が正しいかを"
                                "確認してください") from None
