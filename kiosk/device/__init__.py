"""What this device keeps between runs: keyring secrets, lockdown PIN, preferences, model pack."""
