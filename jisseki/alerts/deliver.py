"""Sending queued alerts through Apprise, one digest per channel. A channel that is down never fails the run:
its messages stay queued and go out in its next digest. URLs are secrets: only their hash is stored."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from jisseki.alerts.digest import Digest
from jisseki.core.imports import heavy


@dataclass(frozen=True)
class Channel:
    id: str        # sha256 of the URL, the only form of it that is stored or shown
    label: str     # scheme only, for logs
    url: SecretStr


def channel(url: str) -> Channel:
    return Channel(hashlib.sha256(url.encode()).hexdigest()[:24], url.split("://", 1)[0] + "://…", SecretStr(url))


def apprise_send(ch: Channel, title: str, body: str, severity: str) -> bool:
    """body is HTML. Told so, Apprise converts it for each channel: mail gets a text/html part and a text/plain
    part derived from it with its lines kept; a plain-text channel (json://) gets that text, Markdown ones
    Markdown. Without body_format Apprise would take the body as already in the channel's format."""
    apprise = heavy("apprise")
    # Apprise's own log lines can carry the URL; keep them out of ours.
    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    notifier = apprise.Apprise()
    if not notifier.add(ch.url.get_secret_value()):
        return False
    return bool(notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.HTML,
                                notify_type=severity))   # failure | warning | success: Apprise's own words


def deliver(queued: Iterable[Mapping[str, Any]], channels: Mapping[str, Channel],
            mark: Callable[[list[int], str | None], None], compose: Callable[[list[Mapping[str, Any]]], Digest],
            send: Callable[[Channel, str, str, str], bool] = apprise_send) -> tuple[int, int]:
    """One digest per channel of everything queued for it; all its rows are delivered when the channel takes
    the one message, and all wait for the next run when it does not. Returns (digests sent, failed)."""
    sent = failed = 0
    by_channel: dict[str, list[Mapping[str, Any]]] = {}
    for message in queued:
        if message["channel"] in channels:
            by_channel.setdefault(message["channel"], []).append(message)
    for channel_id, rows in by_channel.items():
        ch = channels[channel_id]
        digest = compose(rows)
        try:
            ok = send(ch, digest.subject, digest.html(), digest.severity)
            error = None if ok else f"{ch.label} が受け付けませんでした"
        except Exception as exc:  # a broken channel must not break the nightly run
            error = f"{ch.label} への送信で {type(exc).__name__}"
        mark([row["id"] for row in rows], error)
        if error:
            failed += 1
        else:
            sent += 1
    return sent, failed
