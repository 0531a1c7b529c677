"""One module per section of the report; each turns the result into blocks."""
