"""What the modem emulator remembers, and how it frames what it says."""

from __future__ import annotations

from dataclasses import dataclass, field

SIM_STATES = ("READY", "SIM PIN", "SIM PUK", "NOT INSERTED")
REGISTRATION_CODES = {"not registered": 0, "home": 1, "searching": 2, "denied": 3,
                      "unknown": 4, "roaming": 5}
REGISTRATION_COMMANDS = ("+CREG", "+CEREG", "+CGREG")
MEMORIES = ("SM", "ME", "MT")


def frame(line: str) -> bytes:
    """A line as a modem puts it on the wire with ATV1."""
    return b"\r\n" + line.encode() + b"\r\n"


def tpdu_length(pdu: bytes) -> int:
    """Octets after the SMSC field: the <length> of +CMGL, +CMT and +CDS."""
    return max(0, len(pdu) - 1 - (pdu[0] if pdu else 0))


def submitted_tpdu(hex_text: str, length: int) -> str | None:
    """The TPDU hex of an AT+CMGS body, or None when it is not hex or not `length` long."""
    try:
        octets = bytes.fromhex(hex_text)
    except ValueError:
        return None
    if not octets or len(octets) != 1 + octets[0] + length:
        return None
    return octets[1 + octets[0]:].hex().upper()


def destination(tpdu_hex: str) -> str | None:
    """The recipient of an SMS-SUBMIT TPDU ("+8613..." or national digits), or None."""
    try:
        octets = bytes.fromhex(tpdu_hex)
        digits, toa = octets[2], octets[3]
        packed = octets[4:4 + (digits + 1) // 2]
    except (ValueError, IndexError):
        return None
    number = "".join(f"{b & 0x0F:x}{b >> 4:x}" for b in packed)[:digits]
    if not number.isdigit():
        return None
    return "+" + number if toa & 0x70 == 0x10 else number


@dataclass(slots=True)
class ModemState:
    """Everything the emulated modem remembers; `reset_volatile` is what a reboot loses."""

    model: str
    operator: str
    smsc: str
    registration: str
    csq: int
    storage_size: int
    boot_s: float
    sim: str
    pin: str
    pin_protected: bool
    pin_tries: int = 3
    echo: bool = True
    cmee: int = 0
    cmgf: int = 1
    cnmi: tuple[int, ...] = (0, 0, 0, 0, 0)
    cfun: int = 1
    reg_n: dict[str, int] = field(default_factory=dict)
    memory: str = "SM"
    storage: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    held: list[bytes] = field(default_factory=list)
    next_mr: int = 0
    booting: bool = False
    off: bool = False
    boot_generation: int = 0
    ims: bool = True  # an LTE modem registered on IMS (+CIREG), so texts go as SMS over IP
    circuit: bool = True  # registered on the circuit network too (+CREG): 2G/3G or SGs
    voice: bool = True  # the SIM has voice service (a data-only SIM has not)
    cvhu: int = 0  # AT+CVHU: 0 lets ATH end voice calls, 1 makes ATH leave them alone

    def reset_volatile(self) -> None:
        """Settings back to power-on defaults; a PIN-protected SIM locks again."""
        self.echo, self.cmee, self.cmgf, self.cfun = True, 0, 1, 1
        self.cnmi, self.reg_n, self.memory = (0, 0, 0, 0, 0), {}, "SM"
        if self.pin_protected and self.sim == "READY":
            self.sim = "SIM PIN"

    def stat(self) -> int:
        """The <stat> of +CREG: 0 unless the radio is on and the SIM ready."""
        if self.cfun != 1 or self.sim != "READY":
            return 0
        return REGISTRATION_CODES.get(self.registration, 4)

    def circuit_stat(self) -> int:
        """The <stat> of +CREG: as +CEREG's unless the network gives LTE only."""
        return self.stat() if self.circuit else 0

    def free_index(self) -> int | None:
        return next((i for i in range(self.storage_size) if i not in self.storage), None)
