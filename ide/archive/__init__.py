"""Every run kept: its record (snapshots, output, state) and the recorder that writes it."""
