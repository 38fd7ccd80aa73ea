"""Request and response bodies: `resources` (the admin API's XBase / XCreate / XUpdate /
XPublic family), `kiosk` (devices, pairing, sync, upload), `attempts`, `reports`."""
