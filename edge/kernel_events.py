"""What Linux can tell the hub's sleeping loop, so that it need not look twice a second:
the database's write-ahead log written (inotify(7): another process committed, like
`edge-hub alerts ack`) and the wall clock set (timerfd_create(2) with
TFD_TIMER_CANCEL_ON_SET: NTP stepping a Pi's clock). Both are file descriptors the event
loop watches; each raises OSError where the kernel or libc cannot give them, and the loop
then looks for itself, as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
import time
from pathlib import Path
from typing import Any

_IN_MODIFY, _IN_CLOSE_WRITE, _IN_MOVED_TO, _IN_CREATE = 0x002, 0x008, 0x080, 0x100
_IN_NONBLOCK = _TFD_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = _TFD_CLOEXEC = os.O_CLOEXEC
_CLOCK_REALTIME = 0
_TFD_TIMER_ABSTIME, _TFD_TIMER_CANCEL_ON_SET = 1, 2
_YEARS_S = 10 * 365 * 86_400  # the timer's expiry, never reached: it only reports a set clock
_READ = 4096
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name
_libc: Any = None


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _call(function: str, *args: Any) -> int:
    """A C library function's result; OSError when it fails, or the library has no such
    function (not Linux) or cannot be loaded."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    try:
        entry = getattr(_libc, function)
    except AttributeError:
        raise OSError(errno.ENOSYS, f"the C library has no {function}") from None
    result = int(entry(*args))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{function}: {os.strerror(code)}")
    return result


class _Descriptor:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _read_all(self) -> bytes:
        """What is waiting (b"" when nothing is)."""
        try:
            return os.read(self.fd, _READ)
        except BlockingIOError:
            return b""


class LogWrites(_Descriptor):
    """Readable when the database's write-ahead log is written: a commit, ours or another
    process's. Checkpoints (which write the database file, not the log) are not told. The
    folder is watched for the log being made again (a store back from memory), and the
    new log is then watched in its turn."""

    def __init__(self, database: Path) -> None:
        super().__init__(_call("inotify_init1", _IN_NONBLOCK | _IN_CLOEXEC))
        self.written = False  # what the last drain read: see drain()
        database = database.resolve()  # as SQLite opens it (a link is followed)
        self.log = database.with_name(database.name + "-wal")
        try:
            self._folder = _call("inotify_add_watch", self.fd, os.fsencode(database.parent),
                                 _IN_CREATE | _IN_MOVED_TO)
            self._watch_log()
        except OSError:
            self.close()
            raise

    def _watch_log(self) -> None:
        """Watch the log file as it is now (written, or closed by a writer); none yet:
        the folder says when there is. OSError when it is there but cannot be watched."""
        try:
            _call("inotify_add_watch", self.fd, os.fsencode(self.log),
                  _IN_MODIFY | _IN_CLOSE_WRITE)
        except FileNotFoundError:
            pass

    def drain(self) -> bool:
        """Read what came; True when anything did. `written` then says whether the log may
        have been written: not when the log was only closed (by a reader such as `edge-hub
        status`, which SQLite lets write the log, or by a writer whose commits show)."""
        came, more, self.written = False, True, False
        while more and (events := self._read_all()):
            came, more, at = True, len(events) > _READ - 512, 0  # near full: more may wait
            while at + _EVENT.size <= len(events):
                watch, mask, _, length = _EVENT.unpack_from(events, at)
                self.written = self.written or mask != _IN_CLOSE_WRITE
                at += _EVENT.size + length
                if watch in (self._folder, -1):  # a file made, or events lost: look again
                    self._watch_log()
        return came


class ClockSets(_Descriptor):
    """Readable when the wall clock is set (stepped), never for its steady running."""

    def __init__(self) -> None:
        super().__init__(_call("timerfd_create", _CLOCK_REALTIME, _TFD_NONBLOCK | _TFD_CLOEXEC))
        try:
            self._arm()
        except OSError:
            self.close()
            raise

    def _arm(self) -> None:
        now, most = int(time.time()), 2 ** (8 * ctypes.sizeof(ctypes.c_long) - 1) - 1
        expiry = min(now + _YEARS_S, most)  # a 32-bit Pi's time_t ends in 2038
        if expiry - now < 86_400:
            raise OSError(errno.EOVERFLOW, "no time left to arm the clock timer at")
        far = _Itimerspec(_Timespec(0, 0), _Timespec(expiry, 0))
        _call("timerfd_settime", self.fd, _TFD_TIMER_ABSTIME | _TFD_TIMER_CANCEL_ON_SET,
              ctypes.byref(far), None)

    def drain(self) -> bool:
        """True when the clock was set since the last call; the timer is armed again."""
        try:
            expired = bool(self._read_all())  # ten years without a set: armed again
        except OSError as error:
            if error.errno != errno.ECANCELED:
                raise
            self._arm()
            return True
        if expired:
            self._arm()
        return False
