"""How FestFlow\x27s apps run (not what they say to each other: that is festflow_contracts)."""
