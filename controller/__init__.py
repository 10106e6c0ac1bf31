"""The SaaS controller: an HTTP API and operator dashboard over the same core as the modules."""
