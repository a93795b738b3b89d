"""FestFlow notification hub."""
