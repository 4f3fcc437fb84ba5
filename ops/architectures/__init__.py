"""Network architectures that spandrel does not carry, one module each, in their upstream key layout."""
