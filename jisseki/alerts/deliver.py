"""Sending queued alerts through Apprise. A channel that is down never fails the run: its
messages stay queued and go out on a later run. URLs are secrets: only their hash is stored."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from jisseki.imports import heavy

SEVERITY = {"failure": "failure", "warning": "warning", "success": "success"}


@dataclass(frozen=True)
class Channel:
    id: str        # sha256 of the URL, the only form of it that is stored or shown
    label: str     # scheme only, for logs
    url: SecretStr


def channel(url: str) -> Channel:
    return Channel(hashlib.sha256(url.encode()).hexdigest()[:24], url.split("://", 1)[0] + "://…", SecretStr(url))


def apprise_send(ch: Channel, title: str, body: str, severity: str) -> bool:
    apprise = heavy("apprise")
    # Apprise's own log lines can carry the URL; keep them out of ours.
    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    notifier = apprise.Apprise()
    if not notifier.add(ch.url.get_secret_value()):
        return False
    return bool(notifier.notify(title=title, body=body, notify_type=SEVERITY.get(severity, "info")))


def deliver(queued: list[Mapping[str, Any]], channels: Mapping[str, Channel],
            mark: Callable[[int, str | None], None],
            send: Callable[[Channel, str, str, str], bool] = apprise_send) -> tuple[int, int]:
    """Sends in order; after a channel fails once, its other messages wait for the next run."""
    sent = failed = 0
    down: set[str] = set()
    for message in queued:
        ch = channels.get(message["channel"])
        if ch is None or ch.id in down:
            continue
        try:
            ok = send(ch, message["title"], message["body"], message["severity"])
            error = None if ok else f"{ch.label} が受け付けませんでした"
        except Exception as exc:  # a broken channel must not break the nightly run
            error = f"{ch.label} への送信で {type(exc).__name__}"
        mark(message["id"], error)
        if error:
            down.add(ch.id)
            failed += 1
        else:
            sent += 1
    return sent, failed
