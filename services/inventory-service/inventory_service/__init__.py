"""FestFlow inventory service."""
