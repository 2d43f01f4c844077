"""One ``ComponentResource`` per concern, each with a typed args class."""
