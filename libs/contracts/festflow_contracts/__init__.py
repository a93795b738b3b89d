"""FestFlow's shared contracts. Every app may depend on this library; no app imports another app."""
