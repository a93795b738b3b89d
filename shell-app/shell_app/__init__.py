"""FestFlow shell app."""
