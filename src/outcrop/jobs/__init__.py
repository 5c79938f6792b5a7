"""Work that runs outside the request: persisted in the data dir, resumed or failed after a restart."""
