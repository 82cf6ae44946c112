"""The one "stop, nobody wants this any more" exception, shared by core's long passes and the GUI's
background tasks. Kept in its own torch-free module so the GUI can import it before torch has loaded."""
from __future__ import annotations


class Cancelled(Exception):
    """A long pass (decode, health scan, a background job) was cancelled or superseded."""
