"""FestFlow admin micro-frontend."""
