"""The backend-neutral tracing core.  Nothing here imports Flask."""
