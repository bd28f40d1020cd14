"""SQLModel tables, the database engine and input validation."""
