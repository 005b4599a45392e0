"""The six instruction tasks: templates, example builders, user text, the tasks stage."""
