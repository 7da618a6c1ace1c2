"""HTTP route for the stored PDFs: /brief/<YYYY-MM-DD>.pdf?lang=vi|en (the page and archive link here)."""

from __future__ import annotations

from datetime import date

from flask import Flask, Response, abort, request

from ioc.auth.http import current_user
from ioc.brief_queries import brief_pdf
from ioc.i18n import normalize_lang


def register(server: Flask, runtime) -> None:
    @server.get("/brief/<day>.pdf")
    def brief_pdf_route(day: str) -> Response:
        user = current_user()  # signed in (the gate saw to that); briefs are for leaders and admins
        if user is None or not user.may("brief"):
            abort(403)
        try:
            when = date.fromisoformat(day)
        except ValueError:
            abort(404)
        lang = normalize_lang(request.args.get("lang"), runtime.config.settings.ui.language)
        document = brief_pdf(runtime.db, when, lang)
        if document is None:
            abort(404)
        return Response(document, mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="brief-{when}-{lang}.pdf"'})
