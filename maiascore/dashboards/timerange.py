"""v6 time ranges: ``window`` or ``from``/``to``, bounded to 93 days, and the bin size each length gets."""
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from maiascore.clock import utcnow
from maiascore.errors import Invalid

DEFAULT_WINDOW = timedelta(days=7)
MAX_RANGE = timedelta(days=93)
# (longest range, bin size in seconds), from the v6 table.
BIN_SIZES = ((timedelta(days=1), 300), (timedelta(days=14), 3600), (timedelta(days=30), 7200),
             (timedelta(days=50), 14400), (MAX_RANGE, 21600))
WINDOW_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
WINDOW_PATTERN = re.compile(r"^([0-9]+)([smhdw]?)$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}Z?$")
# Dates outside these make bin arithmetic leave datetime's range (year 1 minus a bin, year 9999 plus a day).
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)


def v6_datetime(value):
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if value else None


def epoch_seconds(value):
    return int(value.timestamp())


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def seconds(self):
        return int((self.end - self.start).total_seconds())

    @property
    def bin_size(self):
        length = self.end - self.start
        for longest, size in BIN_SIZES:
            if length <= longest:
                return size
        raise AssertionError("ranges are checked against MAX_RANGE when parsed")

    def ending_at_end(self, seconds):
        """The range a ``fixedTimespan`` widget uses: the same end, its own length."""
        return TimeRange(self.end - timedelta(seconds=seconds), self.end)


def parse_date(raw, name):
    text = (raw or "").strip()
    if not DATE_PATTERN.match(text):
        raise Invalid(f"{name} must be a UTC date-time as YYYY-mm-ddTHH:MM:SS, not {raw!r}")
    try:
        value = datetime.fromisoformat(text.rstrip("Z").replace(" ", "T"))
    except ValueError:
        raise Invalid(f"{name} {raw!r} is not a valid date-time")
    value = value.replace(tzinfo=timezone.utc)
    if not EARLIEST <= value < LATEST:
        raise Invalid(f"{name} must be between {v6_datetime(EARLIEST)} and {v6_datetime(LATEST)}, not {raw!r}")
    return value


def parse_window(raw):
    match = WINDOW_PATTERN.match((raw or "").strip())
    if not match:
        raise Invalid(f"window must be a number followed by s, m, h, d or w (e.g. 12h, 7d), not {raw!r}")
    digits = match.group(1).lstrip("0")
    if len(digits) > 12:  # beyond any 93 days in any unit, and beyond timedelta's range
        raise Invalid(f"window {raw!r} spans more than 93 days; at most 93 days are served")
    seconds = int(digits or 0) * WINDOW_UNITS[match.group(2)]
    if seconds <= 0:
        raise Invalid("window must be longer than zero")
    length = timedelta(seconds=seconds)
    check_length(length)
    return length


def parse_time_range(window=None, start=None, end=None, now=None):
    """v6 time ranges: ``window`` or ``from`` (with an optional ``to``); 7 days by default."""
    now = now or utcnow()
    if now.microsecond:  # whole seconds, rounded up: a report stored a moment ago is inside the range
        now = now.replace(microsecond=0) + timedelta(seconds=1)
    if window and (start or end):
        raise Invalid("window and from/to are mutually exclusive: send one or the other")
    if end and not start:
        raise Invalid("to needs from: send from, or from and to")
    if start:
        begin = parse_date(start, "from")
        finish = parse_date(end, "to") if end else now
        if finish <= begin:
            raise Invalid("to must be later than from" if end else "from must be in the past when to is omitted")
    else:
        length = parse_window(window) if window else DEFAULT_WINDOW
        begin, finish = now - length, now
    check_length(finish - begin)
    return TimeRange(begin, finish)


def check_seconds(seconds, name):
    """A length in seconds as a timedelta, refused before timedelta overflows on it."""
    if seconds > MAX_RANGE.total_seconds():
        raise Invalid(f"{name} spans {seconds / 86400:g} days; at most 93 days are served")
    return timedelta(seconds=seconds)


def check_length(length):
    if length > MAX_RANGE:
        raise Invalid(f"the time range spans {length.total_seconds() / 86400:g} days; at most 93 days are served")
