"""Steering a run from another process: each headless session listens on a Unix socket of its
own (server.py, wired by the API's Session), and `rlm-tui watch` sends it the app's steering
keys (client.py) in a small line-delimited JSON protocol (protocol.py). Only the same user:
the socket is mode 0600 in a 0700 directory of the user's runtime dir (socket_dir.py), and
each side checks the other's uid.

Nothing here imports the engine: the server steers any object with the Session's pause(),
resume(), step(), halt(), add_note() and state.
"""
