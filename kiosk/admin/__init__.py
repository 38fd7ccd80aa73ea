"""The admin app's client for the server's admin API, without Qt; only `ui.admin` uses it."""
