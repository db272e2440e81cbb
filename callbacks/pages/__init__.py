"""Pages assembled for a principal from fresh queries (components/ does their layout): what the
routing callback and the refreshes render. Nothing here is a callback or reads the request."""
