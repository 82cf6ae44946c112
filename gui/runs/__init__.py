"""The Runs tab: every run in one place, compared side by side, and followed live (issue 8)."""
