"""Server-rendered pages: they call selectors and services and hold no business rules."""
