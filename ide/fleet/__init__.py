"""The fleet: one script run on many hosts at once.

A ``dtrace-ide agent`` on each traced host takes run and stop commands from the server over
a RabbitMQ broker, runs them with its own backends, policy and limits, and publishes its
snapshots back; the server merges them, each aggregation keyed by host first, into one view.
The commands are signed (``signing``), so an account that can publish on the broker cannot
make an agent run a script.  Nothing here imports Flask.
"""
