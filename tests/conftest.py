"""Suite-wide settings: telemetry events must match the catalogue (a mismatch fails loudly)."""

import os

os.environ.setdefault("ISSUEOPS_TELEMETRY_STRICT", "1")
