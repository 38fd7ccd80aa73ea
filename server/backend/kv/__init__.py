"""The shared key-value store (rate limits, single-use tokens, refresh families, event
fan-out): Redis when it answers, the in-process store while it does not."""
