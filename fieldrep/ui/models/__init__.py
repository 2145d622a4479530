"""Qt item models over lists of rows."""
