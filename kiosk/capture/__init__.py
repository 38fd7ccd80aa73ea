"""Frames in: camera, video and folder sources, the one-slot mailbox, motion, QR reading."""
