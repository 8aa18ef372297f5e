"""Analysis: pure functions from frames to frames and findings. No I/O in here."""
