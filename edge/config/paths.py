"""Where the hub's configuration is, by default; cheap to import, so that the command line
can build its help without loading the configuration code."""

from pathlib import Path

DEFAULT_CONFIG = Path("/etc/edge-hub/hub.toml")
EXAMPLE_CONFIG = "config/hub.example.toml"
