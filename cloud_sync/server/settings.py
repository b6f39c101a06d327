"""The server's defaults and the checks of its command-line settings; cheap to import, so
that the command line can build its help without loading the server."""

from __future__ import annotations

from cloud_sync.server.errors import ReceiverSetupError

DEFAULT_DB = "sqlite:///receiver.db"
DEFAULT_POOL = 4  # PostgreSQL connections per server process (the URL's ?pool=N)
DEFAULT_ROOT = "eldercare/v1/"
DEFAULT_GROUP = "receivers"

def check_topic_root(text: str) -> str:
    """A topic root ending in '/', without wildcards, or raise ReceiverSetupError."""
    root = text if text.endswith("/") else text + "/"
    if root == "/" or root.startswith("$") or set("+#\x00") & set(root):
        raise ReceiverSetupError(f"topic root {text!r}: expected a topic prefix like eldercare/v1/ "
                                 "without '+', '#' or a leading '$'")
    return root

LOOPBACK = ("127.0.0.1", "::1")  # the proxies believed unless --trusted-proxy says otherwise
