"""Mutation fuzzers over everything the hub reads from outside: BLE adverts, SMS PDUs and
the modem's AT lines. Seeded, so a failure can be run again; nothing may escape as an
exception, and no advert that is not a watch's own new frame may be accepted."""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from edge.alerts.hub import Hub
from edge.clock import FakeClock
from edge.errors import PduError
from edge.sms.conversation import Conversation
from edge.sms.replies import Replies
from edge.sms.texts import SmsStore
from edge.storage.store import Store
from firmware_bridge.modem.at_protocol import (
    AtReader,
    classify,
    parse_final,
)
from firmware_bridge.modem.at_replies import (
    args_of,
    parse_cmgl,
    parse_cmgr,
    parse_cmgs,
    parse_cops,
    parse_cpin,
    parse_creg,
    parse_csca,
    parse_csq,
)
from firmware_bridge.modem.serial_modem import event_for
from firmware_bridge.simulators.virtual_air import VirtualWatch
from firmware_bridge.sms.pdu import (
    decode_pdu,
    encode_deliver,
    encode_status_report,
    encode_submit,
)
from tests.building import Timing, make_roster
from tests.campaign import Result


def mutate(data: bytes, chance: random.Random) -> bytes:
    """One random change: flipped bits, a changed, dropped or added byte, a cut, a splice."""
    raw = bytearray(data)
    how = chance.randrange(7)
    if how == 0 and raw:
        for _ in range(chance.randint(1, 3)):
            raw[chance.randrange(len(raw))] ^= 1 << chance.randrange(8)
    elif how == 1 and raw:
        raw[chance.randrange(len(raw))] = chance.randrange(256)
    elif how == 2 and raw:
        del raw[chance.randrange(len(raw))]
    elif how == 3:
        raw.insert(chance.randint(0, len(raw)), chance.randrange(256))
    elif how == 4:
        raw = raw[:chance.randint(0, len(raw))]
    elif how == 5:
        raw += chance.randbytes(chance.randint(1, 16))
    else:
        cut = chance.randint(0, len(raw))
        raw = raw[:cut] + chance.randbytes(chance.randint(0, 8)) + raw[cut:]
    return bytes(raw)


def _guarded(result: Result, action: Callable[[], object]) -> object:
    try:
        return action()
    except Exception:  # noqa: BLE001 - this is what the fuzzer counts
        result.crashes += 1
        if len(result.notes) < 5:
            result.notes.append(traceback.format_exc(limit=3))
        return None


def adverts(folder: Path, count: int, seed: int = 1) -> Result:
    """Mutated, random, foreign and replayed adverts into Hub.on_advert, with the watches'
    own new frames mixed in: those must be accepted, nothing else may be."""
    result = Result("fuzz: BLE adverts into the hub", wrong=0)
    chance = random.Random(seed)
    roster = make_roster(6)
    store = Store.open(folder / "fuzz-adverts.db")
    store.apply_roster(roster)
    hub = Hub("hub-fuzz", store, FakeClock(), Timing(cancel_window_s=0))
    hub.start()
    watches = [VirtualWatch(w.mac, w.key) for w in roster.watches]
    sent: list[tuple[str, bytes]] = []
    genuine = 0
    try:
        for _ in range(count):
            watch = chance.choice(watches)
            kind = chance.random()
            if kind < 0.01 or not sent:  # the watch's own new frame
                data = watch.frame([(0x00, chance.randrange(256)), (0x01, chance.randrange(101))])
                sent.append((watch.mac, data))
                heard = _guarded(result, lambda: hub.on_advert(watch.mac, data, -60))
                genuine += heard is not None
                result.runs += 1
                continue
            mac, data = _hostile(chance, watch, sent, kind)
            heard = _guarded(result, lambda: hub.on_advert(mac, data, -70))
            if heard is not None:
                result.wrong += 1
                result.notes.append(f"accepted a frame that is not new: {data.hex()}")
            result.runs += 1
    finally:
        store.close()
    if genuine < len(sent) * 0.99:
        result.notes.append(f"only {genuine} of {len(sent)} genuine frames were accepted")
        result.wrong += len(sent) - genuine
    return result


def _hostile(chance: random.Random, watch: VirtualWatch, sent: list[tuple[str, bytes]],
             kind: float) -> tuple[str, bytes]:
    mac, original = chance.choice(sent)
    if kind < 0.55:
        return mac, mutate(original, chance)
    if kind < 0.70:
        return watch.mac, chance.randbytes(chance.randint(0, 40))
    if kind < 0.90:
        foreign = ":".join(f"{chance.randrange(256):02X}" for _ in range(6))
        return foreign, chance.randbytes(chance.randint(0, 40))
    return mac, original  # a replay of an accepted frame


def pdus(folder: Path, count: int, seed: int = 2) -> Result:
    """Mutated DELIVER, STATUS-REPORT and SUBMIT PDUs into the decoder (only PduError may
    come out), and a share of them through the stored-reply path of the hub."""
    result = Result("fuzz: SMS PDUs into the decoder and replies", wrong=0)
    chance = random.Random(seed)
    seeds = _pdu_seeds()
    store = Store.memory()
    store.apply_roster(make_roster(2))
    sms = SmsStore(store)
    clock = FakeClock()
    replies = Replies(sms, Conversation(sms, lambda ref, by: None, clock), clock)  # type: ignore[arg-type, return-value]
    for n in range(count):
        pdu, with_smsc, direction = chance.choice(seeds)
        mutated = mutate(pdu, chance)
        try:
            decode_pdu(mutated, with_smsc=with_smsc, direction=direction)
        except PduError:
            pass
        except Exception:  # noqa: BLE001 - counted
            result.crashes += 1
            if len(result.notes) < 5:
                result.notes.append(f"{mutated.hex()}: {traceback.format_exc(limit=2)}")
        if direction == "received" and with_smsc and n % 50 == 0:
            _guarded(result, lambda: sms.save_inbound(mutated, float(n)))
            _guarded(result, replies.process)
        result.runs += 1
    return result


def _pdu_seeds() -> list[tuple[bytes, bool, str]]:
    when = datetime(2026, 11, 29, 8, 15, tzinfo=timezone(timedelta(hours=8)))
    seeds: list[tuple[bytes, bool, str]] = []
    for sender, text in (("+8613800138001", "1"), ("10086", "收到，我马上到"),
                         ("+8613800138002", "ok A0K3 " * 30), ("ChinaMobile", "余额不足")):
        seeds += [(pdu, True, "received") for pdu in encode_deliver(sender, text, timestamp=when)]
        seeds += [(part.tpdu, False, "sent") for part in encode_submit(sender[:14] if
                  sender[0] in "+0123456789" else "10086", text, reference=7)]
    seeds.append((encode_status_report(3, "+8613800138001", sc_timestamp=when,
                                       discharge_time=when), True, "received"))
    return seeds


AT_CORPUS = [
    "OK", "ERROR", "+CMS ERROR: 27", "+CMS ERROR: Destination out of service",
    "+CME ERROR: 10", "+CME ERROR: SIM not inserted", '+CMTI: "SM",3', "+CSQ: 20,99",
    "+CREG: 0,1", "+CREG: 5", '+COPS: 0,0,"CHINA MOBILE",7', '+CSCA: "+8613800100500",145',
    "+CPIN: READY", "+CMGS: 17", "+CMGL: 1,0,,30", "+CMGR: 0,,30", "RING", "RDY",
    "SMS Ready", "+CDS: 25", "+CMT: ,30", "NO CARRIER", "> ",
    "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07",
]


def at_lines(count: int, seed: int = 3) -> Result:
    """Mutated modem lines (any bytes, any split) into the AT reader and every parser."""
    result = Result("fuzz: AT lines into the reader and parsers", wrong=0)
    chance = random.Random(seed)
    reader = AtReader()
    for _ in range(count):
        line = mutate(chance.choice(AT_CORPUS).encode(), chance)
        if chance.random() < 0.1:
            line += chance.choice(["²", "٣", "①", "\x00", "\ufffd"]).encode()
        data = line + chance.choice([b"\r\n", b"\r", b"\n", b""])
        cut = chance.randint(0, len(data))
        for chunk in (data[:cut], data[cut:]):
            items = _guarded(result, lambda: reader.feed(chunk))
            for item in items if isinstance(items, list) else []:
                if hasattr(item, "args"):
                    _guarded(result, lambda: event_for(item))  # type: ignore[arg-type]
        text = line.decode("utf-8", errors="replace")
        _guarded(result, lambda: _parse_all(text))
        result.runs += 1
    return result


def _parse_all(text: str) -> None:
    for parse in (parse_csq, parse_creg, parse_cmgs, parse_cops, parse_csca, parse_cpin,
                  args_of):
        parse(text)
    parse_cmgl([text, text])
    parse_cmgr([text, text], 1)
    final = parse_final(text)
    if final is not None:
        classify(final)
