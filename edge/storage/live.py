"""The running hub's live state in its store: written by the hub (edge.app) every
LIVE_EVERY_S, read by `edge-hub status` (edge.tools.hub_status), which judges from its
age whether the hub is running."""

from __future__ import annotations

LIVE_KEY = "live_status"  # the meta key it is kept under
LIVE_EVERY_S = 10.0
STALE_AFTER_S = 3 * LIVE_EVERY_S  # older than this: what the hub last saw, not what is now
