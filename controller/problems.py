"""Errors as RFC 9457 problem details: a status, a title, what to do, and each bad field."""

from __future__ import annotations

from flask import jsonify

TYPE_BASE = "https://odoo-saas-kit.dev/problems/"


class Problem(Exception):
    def __init__(self, status, title, detail, errors=None, kind=None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors or []
        self.kind = kind or title.lower().replace(" ", "-")

    def response(self):
        body = {"type": TYPE_BASE + self.kind, "title": self.title, "status": self.status, "detail": self.detail}
        if self.errors:
            body["errors"] = [{"field": field, "message": message} for field, message in self.errors]
        response = jsonify(body)
        response.status_code = self.status
        response.content_type = "application/problem+json"
        if self.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="odoo-saas-kit"'
        return response


def bad_request(problems):
    return Problem(422, "Invalid request", "; ".join(f"{field}: {message}" for field, message in problems),
                   errors=problems, kind="invalid-request")


def unauthorized():
    return Problem(401, "Unauthorized", "send a live API token as 'Authorization: Bearer osk_...'; "
                                        "an admin makes one with `python -m ansible_collections.odoo_saas.kit.controller token create`")


def forbidden(what):
    return Problem(403, "Forbidden", f"this token's scope does not allow {what}")


def not_found(what):
    return Problem(404, "Not found", f"{what} does not exist")


def conflict(detail):
    return Problem(409, "Conflict", detail)
