"""KPI speech_hours_monthly: hours of speech-recognition sessions per month, city-wide."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from jisseki.core.model import CITY, Figure
from jisseki.core.periods import (
    JST,
    day_start_jst,
    fiscal_year,
    fy_label,
    fy_months,
    month_end,
    month_label,
    month_start,
    next_month,
)
from jisseki.core.records import Record

KPI = "speech_hours_monthly"


class SpeechHours:
    """A session id counts once (the copy read last wins). Each session is split at month
    boundaries in Japan time and clipped at the end of the as-of day."""

    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.sessions: dict[str, tuple[datetime, datetime, str]] = {}

    def add(self, record: Record) -> None:
        f = record.fields
        self.sessions[record.key] = (f["started_at"], f["ended_at"], f["device_id"])

    def figures(self) -> list[Figure]:
        hours: dict[date, float] = defaultdict(float)
        devices: dict[date, set[str]] = defaultdict(set)
        horizon = day_start_jst(self.as_of + timedelta(days=1))
        for start, end, device in self.sessions.values():
            for month, seconds in _month_parts(start, min(end, horizon)):
                hours[month] += seconds / 3600
                devices[month].add(device)
        out = []
        for fy in sorted({fiscal_year(m) for m in hours}):
            out.extend(self._fiscal_year(fy, hours, devices))
        return out

    def _fiscal_year(self, fy: int, hours: dict[date, float], devices: dict[date, set[str]]) -> list[Figure]:
        out, complete = [], []
        for month in fy_months(fy):
            if month > self.as_of:
                break
            last = month_end(month)
            days = (min(last, self.as_of) - month).days + 1
            figure = Figure(KPI, month_label(month), CITY, min(last, self.as_of), hours.get(month, 0.0),
                            checks={"max_hours": 24.0 * days * len(devices.get(month, ())),
                                    "devices": len(devices.get(month, ()))})
            out.append(figure)
            if last <= self.as_of:
                complete.append(figure)
        if complete:
            mean = sum(f.value for f in complete) / len(complete)
            out.append(Figure(KPI, fy_label(fy), CITY, complete[-1].as_of, mean,
                              checks={"max_hours": max(f.checks["max_hours"] for f in complete),
                                      "devices": max(f.checks["devices"] for f in complete)}))
        return out

    def max_event_date(self) -> date | None:
        """The last day with any usage, up to the as-of date."""
        starts = [start.astimezone(JST).date() for start, _, _ in self.sessions.values()]
        return max((day for day in starts if day <= self.as_of), default=None)


def _month_parts(start: datetime, end: datetime):
    """(first day of month, seconds) for each JST month the interval [start, end) touches."""
    cur = start.astimezone(JST)
    end = end.astimezone(JST)
    while cur < end:
        month = month_start(cur.date())
        boundary = day_start_jst(next_month(month))
        stop = min(end, boundary)
        yield month, (stop - cur).total_seconds()
        cur = stop
