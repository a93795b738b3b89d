"""Local SMTP sink: receives real SMTP and keeps each mail as an .eml file."""
