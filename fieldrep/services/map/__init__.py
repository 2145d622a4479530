"""What the map shows: accounts, territory shapes, selections and the day's route."""
