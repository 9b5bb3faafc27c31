"""GraphiQL for browsers, from the app itself: the page and its pinned, vendored assets.

The files under `api/static/graphiql/` (see its README.md: versions, sha256, licences) are
served at `/static/graphiql/...` with immutable cache headers; their folders carry the
version, so an upgrade is a new URL. The page contacts no other origin, and says what to do
in Chinese and English when a script fails to load instead of waiting forever.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from api.security import csp_hash

STATIC_DIR = Path(__file__).resolve().parent / "static"
GRAPHIQL = "graphiql/graphiql-3.9.0"
REACT = "graphiql/react-18.3.1"
REACT_DOM = "graphiql/react-dom-18.3.1"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    "LICENSE": "text/plain; charset=utf-8",
}
YEAR = 365 * 24 * 3600


def content_type(path: Path) -> str | None:
    return TYPES.get(path.suffix) or TYPES.get(path.name)


# Only these files, found once at import: a request can name nothing else (no traversal).
FILES = {
    path.relative_to(STATIC_DIR).as_posix(): path
    for path in sorted(STATIC_DIR.rglob("*"))
    if path.is_file() and content_type(path)
}


@cache
def etag(name: str) -> str:
    return '"' + hashlib.sha256(FILES[name].read_bytes()).hexdigest()[:32] + '"'


GZIPPED: dict[str, bytes] = {}


async def gzipped(name: str) -> bytes:
    """Compressed once per process, off the event loop: gzipping graphiql.min.js on every
    request (as GZipMiddleware would) stalls the loop for a third of a second."""
    body = GZIPPED.get(name)
    if body is None:
        data = FILES[name].read_bytes()
        body = await anyio.to_thread.run_sync(lambda: gzip.compress(data, 6, mtime=0))
        GZIPPED[name] = body
    return body


async def serve_static(request: Request) -> Response:
    """GET /static/{path}: the vendored GraphiQL files, while GraphiQL is on."""
    name = request.path_params["path"]
    path = FILES.get(name)
    if path is None or not request.app.state.settings.graphiql:
        return Response(status_code=404)  # RequestIdMiddleware makes it a JSON error
    headers = {
        "etag": etag(name),
        "cache-control": f"public, max-age={YEAR}, immutable",
        "x-content-type-options": "nosniff",
        "vary": "Accept-Encoding",
    }
    if headers["etag"] in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        # already encoded: GZipMiddleware passes it through untouched
        headers["content-encoding"] = "gzip"
        return Response(await gzipped(name), media_type=content_type(path), headers=headers)
    return FileResponse(path, media_type=content_type(path), headers=headers)


def asset_url(name: str) -> str:
    assert name in FILES, name  # a typo here would be a page that never loads
    return f"/static/{name}"


# The page's inline style and scripts, allowed by their hashes in its Content-Security-
# Policy (no 'unsafe-inline', no eval: GraphiQL 3.9 and React 18 need neither). A script
# that fails to load is caught by a capturing `error` listener, not an onerror attribute
# (inline handlers would need 'unsafe-hashes').
PAGE_STYLE = """
    body { margin: 0; height: 100vh; font-family: system-ui, sans-serif; }
    #graphiql { height: 100vh; }
    .notice { max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.6; }
    .notice code { background: #f1f3f5; padding: 0 .25rem; }
  """
FAILED_SCRIPT = """
    function graphiqlFailed(what) {
      var root = document.getElementById('graphiql');
      if (root.dataset.failed) return;
      root.dataset.failed = '1';
      root.innerHTML =
        '<div class="notice"><h1>GraphiQL 未能加载</h1>' +
        '<p>未能加载：<code class="what"></code>。请刷新页面；如果仍然失败，' +
        '服务器的安装可能不完整（GraphiQL 的文件随程序一起安装在 api/static/graphiql/）。' +
        '接口本身不受影响：可以用 <code>POST /graphql</code> 发送 JSON ' +
        '<code>{"query": "{ regions { edges { node { name } } } }"}</code>。</p>' +
        '<h1 lang="en">GraphiQL did not load</h1>' +
        '<p lang="en">Could not load: <code class="what"></code>. Reload the page; if it still ' +
        'fails, the server\\'s installation may be incomplete (GraphiQL\\'s files are installed ' +
        'with the app in api/static/graphiql/). The API itself works: POST JSON ' +
        '<code>{"query": "..."}</code> to <code>/graphql</code>.</p></div>';
      root.querySelectorAll('.what').forEach(function (el) { el.textContent = what; });
    }
    window.addEventListener('error', function (event) {
      var el = event.target;
      if (el && el.tagName === 'SCRIPT') graphiqlFailed(el.getAttribute('src'));
    }, true);
  """
START_SCRIPT = """
    try {
      if (typeof React === 'undefined' || typeof ReactDOM === 'undefined'
          || typeof GraphiQL === 'undefined') {
        throw new Error('React / GraphiQL');
      }
      var fetcher = GraphiQL.createFetcher({ url: window.location.pathname });
      ReactDOM.createRoot(document.getElementById('graphiql')).render(
        React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolbarOpen: true })
      );
    } catch (error) {
      graphiqlFailed(String(error && error.message || error));
    }
  """

# GraphiQL's dialogs (settings, shortcuts) lock the page's scrolling with a <style> that
# react-remove-scroll-bar writes, its gaps the page's margins and scrollbar width: all 0
# on this page (body margin 0, nothing overflows), so its text is this, byte for byte.
DIALOG_STYLE = (
    "\n  .with-scroll-bars-hidden {\n   overflow: hidden !important;\n"
    "   padding-right: 0px !important;\n  }\n  body {\n    overflow: hidden !important;\n"
    "    overscroll-behavior: contain;\n    position: relative !important;\n"
    "    padding-left: 0px;\n    padding-top: 0px;\n    padding-right: 0px;\n"
    "    margin-left:0;\n    margin-top:0;\n    margin-right: 0px !important;\n    \n"
    "  }\n  \n  .right-scroll-bar-position {\n    right: 0px !important;\n  }\n  \n"
    "  .width-before-scroll-bar {\n    margin-right: 0px !important;\n  }\n  \n"
    "  .right-scroll-bar-position .right-scroll-bar-position {\n    right: 0 !important;\n"
    "  }\n  \n  .width-before-scroll-bar .width-before-scroll-bar {\n"
    "    margin-right: 0 !important;\n  }\n  \n  body {\n"
    "    --removed-body-scroll-bar-size: 0px;\n  }\n"
)

GRAPHIQL_CSP = "; ".join(
    [
        "default-src 'none'",
        f"script-src 'self' {csp_hash(FAILED_SCRIPT)} {csp_hash(START_SCRIPT)}",
        f"style-src 'self' {csp_hash(PAGE_STYLE)} {csp_hash(DIALOG_STYLE)}",
        "font-src 'self' data:",  # GraphiQL's CSS embeds its fonts
        "img-src 'self' data:",
        "connect-src 'self'",  # the fetcher: POST /graphql on this origin
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)

GRAPHIQL_HTML = f"""<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>cunwu 村务 GraphQL</title>
  <style>{PAGE_STYLE}</style>
  <link rel="stylesheet" href="{asset_url(f"{GRAPHIQL}/graphiql.min.css")}" />
</head>
<body>
  <div id="graphiql"><p class="notice">正在加载 GraphiQL… / Loading GraphiQL…</p></div>
  <script>{FAILED_SCRIPT}</script>
  <script src="{asset_url(f"{REACT}/react.production.min.js")}"></script>
  <script src="{asset_url(f"{REACT_DOM}/react-dom.production.min.js")}"></script>
  <script src="{asset_url(f"{GRAPHIQL}/graphiql.min.js")}"></script>
  <script>{START_SCRIPT}</script>
</body>
</html>
"""
