"""GET /: what this server is and where to go, as a small page for browsers or JSON."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from api.security import csp_hash
from models.messages import EN, ZH, pick_language

SERVICE = "cunwu 村务"
ABOUT = {
    "zh": "村务公开（财务、党务、村务）的后端：一个 GraphQL 接口。",
    "en": "Backend of village affairs transparency (finance, party and village affairs): "
    "one GraphQL endpoint.",
}
GRAPHIQL_HINT = {
    "zh": "在浏览器中打开 /graphql 即可用 GraphiQL 试用接口。",
    "en": "Open /graphql in a browser to try the API in GraphiQL.",
}
POST_HINT = {
    "zh": '向 /graphql 发送 POST 请求，JSON 正文 {"query": "..."}。',
    "en": 'Send POST requests to /graphql with a JSON body {"query": "..."}.',
}


async def home(request: Request) -> Response:
    graphiql = bool(request.app.state.settings.graphiql)
    # One address, two bodies: caches must key on the headers that choose between them.
    vary = {"vary": "Accept, Accept-Language"}
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(page(graphiql), headers={**vary, "content-security-policy": PAGE_CSP})
    lang = pick_language(request.headers.get("accept-language"))
    return JSONResponse(
        {
            "service": SERVICE,
            "about": ABOUT[lang],
            "graphql": "/graphql",
            "graphiql": "/graphql" if graphiql else None,
            "hint": (GRAPHIQL_HINT if graphiql else POST_HINT)[lang],
            "health": "/healthz",
            "ready": "/readyz",
        },
        headers=vary,
    )


STYLE = """body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto;
    padding: 0 1rem; line-height: 1.6; }"""
# links and one inline style (by its hash); nothing else loads or runs
PAGE_CSP = (
    f"default-src 'none'; style-src {csp_hash(STYLE)}; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def page(graphiql: bool) -> str:
    zh, en = ZH, EN
    if graphiql:
        body = (
            f'<p><a href="/graphql">GraphiQL: /graphql</a> — {escape(GRAPHIQL_HINT[zh])}</p>'
            f'<p lang="en">{escape(GRAPHIQL_HINT[en])}</p>'
        )
    else:
        body = f'<p>{escape(POST_HINT[zh])}</p><p lang="en">{escape(POST_HINT[en])}</p>'
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>{SERVICE}</title>
  <style>{STYLE}</style>
</head>
<body>
  <h1>{SERVICE}</h1>
  <p>{escape(ABOUT[zh])}</p>
  <p lang="en">{escape(ABOUT[en])}</p>
  {body}
  <p><a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a></p>
</body>
</html>
"""
