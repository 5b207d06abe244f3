"""The worker process: connect, register workflows and activities, run, shut down cleanly."""
