"""Errors of the local web UI (all `CliqueError`s)."""

from __future__ import annotations

from ..errors import CliqueError


class WebError(CliqueError):
    """Base class of the web UI's failures."""

    status = 400


class BadWebAddress(WebError):
    """The address given to `--web` is not HOST:PORT, or is not loopback without the remote flag."""


class ForeignHost(WebError):
    """The request's Host header names another site (a DNS-rebinding attempt or a mistake)."""

    status = 421


class CrossSiteRequest(WebError):
    """A state-changing request came from another origin, or without any Origin/Referer."""

    status = 403


class CsrfTokenMissing(WebError):
    """A state-changing request carried no CSRF token, or one not issued to this browser."""

    status = 403


class AccessDenied(WebError):
    """A remote web UI was reached without its access token."""

    status = 401


class PageNotFound(WebError):
    """No page, or no document, under that address."""

    status = 404


class BadForm(WebError):
    """A form was submitted with a missing or malformed field."""
