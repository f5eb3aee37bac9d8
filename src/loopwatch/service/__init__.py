"""The outer layer serving the prediction loop: the HTTP app, its metrics, the server, the report."""
