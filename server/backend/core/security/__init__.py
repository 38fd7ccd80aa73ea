"""Cryptography of the backend: password hashes, JWTs, signed QR codes, template encryption."""
