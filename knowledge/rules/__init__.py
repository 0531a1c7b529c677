"""Rule files (YAML). A package only so that the files ship with an installation."""
