"""Errors a source can end in; each message is safe to show (no secrets, no personal data), names what
failed and where (file, folder, or the request with its host but no credentials), and its hint says what to do."""
from __future__ import annotations

from jisseki.core.errors import JissekiError


class SourceError(JissekiError):
    """The source could not be collected; nothing of it lands this run."""


class SourceConfigError(SourceError):
    """Credentials or settings are wrong: retrying will not help."""

    hint = "設定ファイルのこのソースの設定と認証情報を確認してください"


class SourceUnavailable(SourceError):
    """The source is down or slow; the next run may succeed."""

    hint = ("相手のシステムが止まっているか遅いようです。復旧すれば次回の実行で取り込まれます"
            "（続くときは相手先に確認してください）")


class SourceFormatError(SourceError):
    """The source answered with something that is not its contract."""

    hint = "届いたデータが取り決めた形式と違います。送り元のシステムの担当に確認してください"
