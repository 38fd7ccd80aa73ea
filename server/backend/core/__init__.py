"""The backend's framework pieces: settings, the database, security, the per-app
context built in the lifespan, serving (uvicorn limits), logging and metrics."""
