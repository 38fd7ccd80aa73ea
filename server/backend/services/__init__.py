"""Collaborators of the API that talk to the outside: email, the face-service, throttling."""
