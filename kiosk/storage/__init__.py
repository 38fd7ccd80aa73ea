"""The kiosk's durable memory: one SQLite database holding check-ins with their outbox
rows and the synced gallery, plus salvage and export of what was never sent."""
