"""deliberation: the discussion space of a forum on local development and multilevel governance."""
