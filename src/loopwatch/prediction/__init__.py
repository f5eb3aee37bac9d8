"""Loop 1, the prediction loop: decision logging for serving code."""
