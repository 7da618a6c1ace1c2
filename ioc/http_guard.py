"""Guards in front of the Dash callbacks: inputs no callback can answer are refused with a 400.

Properties whose type the browser fixes (a URL's search is text, a click count is a number) are
checked here once, so that every callback may rely on them. A JSON body may also carry a lone
surrogate ("\\ud800" without its pair): Python decodes it, but no
answer containing it can be encoded as UTF-8, so the callback would fail with a 500. Browsers do
not send such text from forms; whoever does gets a clear error instead.
"""

from __future__ import annotations

import re

from flask import Flask, jsonify, request

CALLBACK_PATH = "/_dash-update-component"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]", re.ASCII)


def _has_lone_surrogate(node: object) -> bool:
    if isinstance(node, str):
        try:
            node.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(node, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_lone_surrogate(v) for v in node)
    return False


# property → (accepted types, what to say); None is always accepted (not set yet).
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    **dict.fromkeys(("search", "pathname", "href", "hash"), ((str,), "text")),
    **dict.fromkeys(("n_clicks", "n_intervals", "modified_timestamp", "n_clicks_timestamp"),
                    ((int, float), "a number")),
    **dict.fromkeys(("selectedRows", "rowData"), ((list,), "a list")),
}


def _wrong_type(document: object) -> str | None:
    if not isinstance(document, dict):
        return "the request body must be a JSON object"
    for group in ("inputs", "state"):
        items = document.get(group, [])
        if not isinstance(items, list):
            return f"'{group}' must be a list"
        for item in items:
            if isinstance(item, list):  # pattern-matching ids: a list per wildcard
                continue
            if not isinstance(item, dict):
                return f"'{group}' holds something that is not an input"
            prop, value = item.get("property"), item.get("value")
            accepted = _TYPES.get(prop) if isinstance(prop, str) else None
            if accepted and value is not None and (isinstance(value, bool) or not isinstance(value, accepted[0])):
                return f"{item.get('id')}.{prop} must be {accepted[1]}"
            if prop == "pathname" and not (isinstance(value, str) and value.startswith("/")):
                return f"{item.get('id')}.pathname must be a path starting with /"  # as every browser sends
    return None


def guard_callbacks(server: Flask) -> None:
    @server.before_request
    def _refuse_unencodable_text():
        if request.path != CALLBACK_PATH or request.method != "POST":
            return None
        try:
            document = request.get_json(silent=True, cache=True)  # cached: Dash reads it again
        except RecursionError:
            document = None
        if document is None:
            return jsonify({"error": "the request body is not valid JSON"}), 400
        if problem := _wrong_type(document):
            return jsonify({"error": problem}), 400
        if _SURROGATE_ESCAPE.search(request.get_data(cache=True)) and _has_lone_surrogate(document):
            return jsonify({"error": "text with an unpaired UTF-16 surrogate is not accepted"}), 400
        return None
