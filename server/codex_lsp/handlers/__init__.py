"""Thin LSP handlers: parse (done by the server), call one domain object, map errors."""
