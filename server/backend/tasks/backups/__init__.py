"""Backups and restores of the server's database (`sonta backup`, `sonta restore`)."""
