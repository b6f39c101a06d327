"""The SMS worker revives a dead modem and tells the server what the ladder did."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from edge.clock import FakeClock
from edge.errors import ModemError
from edge.sms.conversation import Conversation
from edge.sms.replies import Replies
from edge.sms.texts import SmsStore
from edge.sms.worker import SmsWorker
from edge.storage.store import Store
from tests.building import make_roster


@dataclass
class DyingModem:
    """A modem (at the SerialModem boundary) that dies on the first send and comes back."""

    revived_by: str = "reset"
    sent: list[str] = field(default_factory=list)
    dead: bool = True

    def open(self) -> None: ...
    def close(self) -> None: ...
    def initialise(self) -> object: return {"sim": "READY"}
    def status(self) -> object: return {"registered": True}
    def list_messages(self) -> list[object]: return []
    def delete_message(self, index: int) -> None: ...
    def clear_storage(self) -> None: ...

    def send_pdu(self, at_hex: str, cmgs_length: int) -> int:
        if self.dead:
            raise ModemError("the port went away", kind="dead")
        self.sent.append(at_hex)
        return len(self.sent)

    def recover(self) -> str:
        self.dead = False
        return self.revived_by


def test_a_dead_modem_is_revived_the_text_goes_out_and_the_server_is_told(tmp_path) -> None:
    store = Store.open(tmp_path / "hub.db")
    store.apply_roster(make_roster(1))
    sms, clock, modem, reports = SmsStore(store), FakeClock(), DyingModem(), []
    conversation = Conversation(sms, lambda ref, by: None, clock)  # type: ignore[arg-type, return-value]
    worker = SmsWorker(sms, modem, Replies(sms, conversation, clock),  # type: ignore[arg-type]
                       clock, idle_s=0.01)
    worker.set_reporter(lambda kind, details: reports.append((kind, details)))
    with store.transaction():
        sms.enqueue("+8613800138000", "sos", "SOS A001", clock.now())

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        for _ in range(100):
            if modem.sent:
                break
            clock.advance(2)  # past the retry wait after the failure
            worker.wake()
            await asyncio.sleep(0.02)
        stop.set()
        await task

    asyncio.run(scenario())
    store.close()
    assert reports == [("hub.modem_recovered", {"step": "reset"})]
    assert len(modem.sent) == 1
