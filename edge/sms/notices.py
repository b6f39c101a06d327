"""The notice of a text that can never go out (a malformed number): an event for the
server and a text to the building's duty desk."""

from __future__ import annotations

from collections.abc import Callable

from edge.clock import Clock
from edge.domain import Role
from edge.sms.texts import OutgoingSms, SmsStore
from edge.storage.store import ALERT_PRIORITY, Store

_UNDELIVERABLE = {
    "zh": "【设备提醒】发给{name}（{phone}）的短信无法送达：号码有误。请核对该联系人的电话号码。",
    "en": "[Hub notice] Texts to {name} ({phone}) cannot be delivered: the number is wrong. "
          "Please check this contact's number.",
}


def undeliverable_notice(store: Store, sms: SmsStore, clock: Clock, hub_id: str,
                         language: str) -> Callable[[OutgoingSms, str], None]:
    """A text that can never go out (a malformed number): an event for the server and a
    text to the building's duty desk, unless the desk's own number is the broken one."""
    def tell(message: OutgoingSms, why: str) -> None:
        """An event always; a text unless it was itself such a notice (two desks with
        wrong numbers must not text each other about it forever)."""
        name, now = sms.contact_name(message.contact_id, message.phone), clock.now()
        alert = store.alert_by_id(message.alert_id) if message.alert_id else None
        body = {"hub": hub_id, "to": message.phone, "name": name, "kind": message.kind,
                "alert": alert.ref if alert else None, "why": why}
        text = _UNDELIVERABLE.get(language, _UNDELIVERABLE["zh"]).format(
            name=name, phone=message.phone)
        def write() -> None:
            store.append_event("sms.undeliverable", now, body, ALERT_PRIORITY)
            for desk in store.contacts_for("") if message.kind != "notice" else []:
                if desk.role is Role.DUTY_DESK and desk.phone != message.phone:
                    sms.enqueue(desk.phone, "notice", text, now, contact_id=desk.id)
        store.write(write)
    return tell
