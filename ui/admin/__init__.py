"""The admin screens of the desktop app: views over `kiosk.admin.client` (no HTTP here)."""
