"""FestFlow email function."""
