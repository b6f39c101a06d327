"""The independent BTHome parser (bthome-ble, test-only) in one call, for checks and benchmarks."""

from __future__ import annotations

from bleak.backends.device import BLEDevice
from bthome_ble import BTHomeBluetoothDeviceData
from habluetooth import BluetoothServiceInfoBleak
from sensor_state_data import SensorUpdate

from firmware_bridge.ble.bthome import BTHOME_SERVICE_UUID

SIGNAL_STRENGTH_KEY = "signal_strength"


def service_info(
    service_data: bytes, mac: str, *, time: float = 1000.0
) -> BluetoothServiceInfoBleak:
    """Build the advert bthome-ble reads: fcd2 service data from mac, as Home Assistant does."""
    return BluetoothServiceInfoBleak(
        name="SOS watch",
        address=mac,
        rssi=-60,
        manufacturer_data={},
        service_data={BTHOME_SERVICE_UUID: service_data},
        service_uuids=[BTHOME_SERVICE_UUID],
        source="local",
        device=BLEDevice(mac, "SOS watch", None),
        advertisement=None,
        connectable=False,
        time=time,
        tx_power=None,
    )


def reference_parse(service_data: bytes, mac: str, key: bytes | None) -> SensorUpdate:
    """Parse one advert with a fresh bthome-ble parser (so no counter or packet-id memory).

    Returns bthome-ble's SensorUpdate: `entity_values` (DeviceKey(key=device class, e.g.
    "temperature", "battery", "raw", with "_1"/"_2" suffixes for repeated kinds) -> SensorValue
    with native_value), `binary_entity_values` (e.g. "battery" for 0x15 -> BinarySensorValue),
    and `events` (DeviceKey("button"/"dimmer") -> Event with event_type and event_properties).
    A refused frame (bad MIC, missing key, downgrade) yields no values. The parser's
    "signal_strength" entity is the rssi we passed, not frame data; `reference_values` drops it.
    """
    return BTHomeBluetoothDeviceData(bindkey=key).update(service_info(service_data, mac))


def reference_values(update: SensorUpdate) -> dict[str, object]:
    """Flatten to "temperature": 25.06, "binary:battery": True, "event:button": (type, props)."""
    values: dict[str, object] = {
        key.key: value.native_value
        for key, value in update.entity_values.items()
        if key.key != SIGNAL_STRENGTH_KEY
    }
    values.update(
        {
            f"binary:{key.key}": value.native_value
            for key, value in update.binary_entity_values.items()
        }
    )
    values.update(
        {
            f"event:{key.key}": (ev.event_type, ev.event_properties)
            for key, ev in update.events.items()
        }
    )
    return values
