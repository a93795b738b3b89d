"""FestFlow catalog micro-frontend."""
