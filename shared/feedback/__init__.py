"""The feedback loop's core: capture, curation into training examples, dataset statistics."""
