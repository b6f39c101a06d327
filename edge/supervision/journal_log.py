"""Log lines for whoever reads them: the journal under systemd, a person on a console.

systemd names the stream it reads in JOURNAL_STREAM ("<device>:<inode>"). On that stream
each line starts with its syslog priority (`<4>` for a warning, sd-daemon(3) style), so
`journalctl -p warning` finds the warnings, and carries no timestamp: journald adds its
own. Anywhere else (the demo, a terminal) lines keep a short local time in front.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Mapping
from typing import TextIO

CONSOLE_FORMAT = "%(asctime)s %(message)s"
CONSOLE_DATEFMT = "%H:%M:%S"
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4),
               (logging.INFO, 6))
_DEBUG = 7


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a Python log level: error 3, warning 4, info 6, debug 7."""
    for level, priority in _PRIORITIES:
        if levelno >= level:
            return priority
    return _DEBUG


def is_journal(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """True when `stream` is the one systemd connected to the journal (JOURNAL_STREAM)."""
    device, _, inode = environ.get("JOURNAL_STREAM", "").partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False
    return (stat.st_dev, stat.st_ino) == (int(device), int(inode))


class JournalFormatter(logging.Formatter):
    """`<priority>message`, each line of a multi-line record (a traceback) prefixed."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def journal_prefix(stream: TextIO, levelno: int, environ: Mapping[str, str]) -> str:
    """The priority prefix for a line written straight to `stream` ('' off the journal)."""
    return f"<{syslog_priority(levelno)}>" if is_journal(stream, environ) else ""


def configure_logging(stream: TextIO, environ: Mapping[str, str],
                      level: int = logging.INFO) -> bool:
    """Send log records to `stream` in the journal's form or the console's; True for the
    journal's."""
    journal = is_journal(stream, environ)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JournalFormatter("%(message)s") if journal
                         else logging.Formatter(CONSOLE_FORMAT, CONSOLE_DATEFMT))
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(handler)
        root.setLevel(level)
    return journal
