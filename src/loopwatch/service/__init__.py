"""The outer layer that serves the prediction loop: the HTTP app, its metrics, the server, the serving report."""
