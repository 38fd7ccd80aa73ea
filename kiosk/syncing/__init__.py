"""Keeping the kiosk and the server in step: pairing, the sync worker, its client, its status."""
