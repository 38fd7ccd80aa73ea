"""What kiosk and server agree on: the check-in record, the wire encodings, signed
tokens, member badges and the head-turn challenge. The server imports these, so they
import nothing of the kiosk's runtime or admin client."""
