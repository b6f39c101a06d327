"""The faults a test can arm on the modem emulator, each used up as it fires."""

from __future__ import annotations

from dataclasses import dataclass, field


def command_name(command: str) -> str:
    """"cmgs", "+CMGS", "AT+CMGS" and "AT+CMGS=23" all name "+CMGS"."""
    name = command.strip().upper()
    name = name.removeprefix("AT")
    name = name.split("=", 1)[0].rstrip("?")
    return name if name.startswith("+") else "+" + name


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A +CMS or +CME error the emulator will answer with."""

    kind: str
    code: int


@dataclass(slots=True)
class FaultPlan:
    """Armed faults; the emulator asks for each at the moment it could fire."""

    failures: dict[str, list[ErrorReply | None]] = field(default_factory=dict)
    lost_prompts: int = 0
    silent_sends: int = 0
    urcs_inside: list[str] = field(default_factory=list)
    stalls: int = 0
    hung: bool = False
    refused_numbers: dict[str, int] = field(default_factory=dict)  # number -> +CMS code

    def fail(self, command: str, error: ErrorReply | None, count: int) -> None:
        """The next `count` uses of `command` answer `error` (None: plain ERROR)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self.failures.setdefault(command_name(command), []).extend([error] * count)

    def take_failure(self, name: str) -> tuple[bool, ErrorReply | None]:
        """(True, error) when a failure is armed for command `name`."""
        queue = self.failures.get(name)
        if not queue:
            return False, None
        return True, queue.pop(0)

    def take_lost_prompt(self) -> bool:
        return self._take("lost_prompts")

    def take_silent_send(self) -> bool:
        return self._take("silent_sends")

    def take_stall(self) -> bool:
        return self._take("stalls")

    def take_urc_inside(self) -> str | None:
        return self.urcs_inside.pop(0) if self.urcs_inside else None

    def _take(self, counter: str) -> bool:
        left = getattr(self, counter)
        if left <= 0:
            return False
        setattr(self, counter, left - 1)
        return True
