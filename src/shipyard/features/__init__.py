"""Feature store: definitions, point-in-time correct training sets, online stores, materialization."""
