"""FestFlow cart micro-frontend."""
