"""The private face-service: the shared face engine behind a small HTTP API.

It binds 127.0.0.1 inside the combined container and is reached only by the backend;
see `app.create_app` for the composition root and `settings` for what it reads.
"""
