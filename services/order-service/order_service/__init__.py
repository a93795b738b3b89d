"""FestFlow order service."""
