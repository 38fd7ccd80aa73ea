"""The admin screens of the desktop app: views over `kiosk.admin_client` (no HTTP here)."""
