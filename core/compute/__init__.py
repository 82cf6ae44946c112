"""Where a run's processing power goes: per-step timing (timer), CPU / memory / GPU use (resources), a verdict
in words (verdict), and the per-interval payload that joins them (monitor). The trainer calls these at cheap
points of its loop; nothing here changes what is trained."""
