"""The one JSON error shape: ``{"error": {"code", "message", "diagnostics"?}}``."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """Raise anywhere under a request to answer with the standard error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        diagnostics: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.diagnostics = diagnostics
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.diagnostics is not None:
            body["diagnostics"] = self.diagnostics
        return {"error": body}


def error_response(err: ApiError) -> tuple[Response, int, dict[str, str]]:
    return jsonify(err.to_dict()), err.status, err.headers


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> tuple[Response, int, dict[str, str]]:
        return error_response(err)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> tuple[Response, int, dict[str, str]]:
        code = (err.name or "error").lower().replace(" ", "_")
        status = err.code or 500
        return error_response(ApiError(status, code, err.description or err.name))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> tuple[Response, int, dict[str, str]]:
        app.logger.exception("unhandled error")
        return error_response(ApiError(500, "internal_error", "internal error; see the log"))
