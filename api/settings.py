"""Settings read once from the environment; everything else receives a Settings object."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from ipaddress import ip_network
from pathlib import Path
from typing import Any

from starlette.config import Config
from tortoise.backends.base.config_generator import expand_db_url

from api.compat import without_pool_reset
from models.accounts.auth import AuthConfig
from models.jobs.queue import utc_now
from models.subsidies import derive_key

MODEL_MODULES = [
    "models.regions",
    "models.accounts",
    "models.audit",
    "models.idempotency",
    "models.media",
    "models.disclosures",
    "models.comments",
    "models.flags",
    "models.notifications",
    "models.deliveries",
    "models.finance",
    "models.prices",
    "models.jobs",
]


class SettingsError(RuntimeError):
    """The environment cannot produce a safe configuration."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    data_dir: Path = Path("data")
    database_url: str = ""
    redis_url: str | None = None
    redis_prefix: str = "cunwu:"
    media_root: Path = Path("data/media")
    secret_key: str = field(default="", repr=False)
    # The key of ID-number hashes (我的补贴); unset, derived from secret_key (`id_key`)
    id_number_key: str = field(default="", repr=False)
    # setMyIdNumber calls, failures included: per user, and per address as a backstop
    id_number_attempts: int = 5
    id_number_ip_attempts: int = 50
    id_number_window_seconds: int = 24 * 3600
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = True
    access_token_seconds: int = 15 * 60
    refresh_token_seconds: int = 30 * 24 * 3600
    refresh_reuse_grace_seconds: int = 30
    # signed-in viewers kept between requests (models.accounts.viewer_cache); 0: off
    viewer_cache_seconds: float = 60.0
    viewer_cache_size: int = 10_000
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    login_attempts: int = 10
    login_window_seconds: int = 300  # login_attempts failures per phone and IP in this window
    login_phone_attempts: int = 100  # the backstop: failures per phone from anywhere ...
    login_phone_window_seconds: int = 3600  # ... in this window
    # SMS codes (phone verification, sign-in and password reset by code)
    sms_code_seconds: int = 300  # a code is good for this long
    sms_code_attempts: int = 5  # wrong tries that kill a code
    # (count, window seconds): codes sent to one number, like the carriers' own limits
    sms_code_phone_limits: tuple[tuple[int, int], ...] = ((1, 60), (5, 3600), (10, 86400))
    # ... and asked for from one address (loose: mobile carriers put many phones behind one)
    sms_code_ip_limits: tuple[tuple[int, int], ...] = ((10, 60), (60, 3600), (200, 86400))
    flag_response_days: int = 5
    # a must-read notice not acknowledged after this many days is re-sent by SMS
    notice_resend_days: int = 3
    font_path: str | None = None  # a CJK font for summary images; else found on the system
    media_max_bytes: int = 15 * 1024 * 1024
    media_max_pixels: int = 100_000_000
    media_daily_quota_bytes: int = 500 * 1024 * 1024
    media_uploads_per_hour: int = 60
    max_query_chars: int = 20_000
    max_query_tokens: int = 1_000  # GraphiQL's introspection query has 165
    max_query_depth: int = 12
    max_query_cost: int = 10_000
    max_query_selections: int = 50  # fields and fragment spreads in one selection set
    max_query_same_name: int = 10  # fields answering under one name in one selection set
    document_cache_size: int = 512
    # Queries executing at once per process, the rest wait their turn in arrival order
    # (0: no bound). Under saturation uvloop otherwise lets some requests overtake others
    # for seconds while they wait on the database (docs/operations.md).
    query_concurrency: int = 8
    # Anonymous query answers kept by document, variables, language and data version
    # (api.response_cache): in Redis when configured, else in process up to the bytes below
    response_cache: bool = True
    response_cache_bytes: int = 64 * 1024 * 1024
    response_cache_entry_bytes: int = 512 * 1024  # a bigger answer is not kept
    response_cache_ttl_seconds: int = 600
    response_cache_max_age: int = 30  # Cache-Control max-age of a public GET answer
    # answers that change with time alone (a notice expiring, a flag falling overdue) are
    # kept per window of this many seconds at most
    response_cache_window_seconds: int = 60
    # The short cuts (api.execution, api.compiled, api.rows, api.sqlite_reads and the pool
    # without reset); off, graphql-core and tortoise do everything their documented way.
    fast_paths: bool = True
    graphiql: bool = True  # the in-browser IDE at GET /graphql; off by default in production
    # proxies whose X-Forwarded-For is believed (addresses or CIDR networks); none by default
    trusted_proxies: tuple[str, ...] = ()
    # origins (scheme://host[:port]) whose pages may call the API from a browser; none = no
    # CORS headers at all (the phone apps need none; a web client on another origin does)
    cors_origins: tuple[str, ...] = ()
    hsts_seconds: int = 0  # Strict-Transport-Security max-age; 0 = not sent (no TLS in front)
    # request bodies: a JSON GraphQL request, and a multipart upload (its files are capped
    # one by one at media_max_bytes: the whole body may hold MAX_FILES of them)
    # 1 MB: a market price batch of 10,000 rows (its documented maximum) is about 800 KB
    max_json_body_bytes: int = 1_000_000
    # Jobs: this process runs the scheduler and a worker (off on API-only processes)
    jobs: bool = True
    clock: Callable[[], datetime] = field(default=utc_now, repr=False, compare=False)
    job_concurrency: int = 10
    job_lease_seconds: float = 60.0
    job_poll_seconds: float = 1.0
    job_backoff_seconds: float = 5.0  # the first retry waits up to this, doubling each time
    job_backoff_cap_seconds: float = 3600.0
    job_stop_grace_seconds: float = 10.0
    jobs_keep_days: int = 7  # finished jobs are pruned after this
    # extra wake-ups of the scheduler, to follow a clock that tests move
    scheduler_wakeup_seconds: float | None = None
    job_modules: tuple[str, ...] = ()  # more modules registering handlers (tests' probes)
    # SMS: the provider (log, aliyun, tencent), where it is reached and as whom
    sms_provider: str = "log"
    sms_endpoint: str | None = None  # the SDK's default when unset; tests point it at 127.0.0.1
    sms_access_key_id: str = field(default="", repr=False)
    sms_access_key_secret: str = field(default="", repr=False)
    sms_sign_name: str = ""
    sms_region: str = ""  # Tencent's region (ap-guangzhou); Aliyun's endpoint says it
    sms_app_id: str = ""  # Tencent's SmsSdkAppId
    sms_templates: dict[str, str] = field(default_factory=dict, compare=False)  # ours -> theirs
    sms_timeout_seconds: float = 10.0
    # notification SMS to one number per day (Asia/Shanghai), a flag's news counted apart;
    # codes have their own limits
    sms_notify_daily_limit: int = 5
    # WeChat subscription messages (the mini program's app id and secret)
    wechat_app_id: str = ""
    wechat_app_secret: str = field(default="", repr=False)
    wechat_base_url: str = "https://api.weixin.qq.com"
    wechat_templates: dict[str, str] = field(default_factory=dict, compare=False)
    wechat_page: str = ""  # the mini program page a message opens
    wechat_state: str = "formal"  # miniprogram_state: formal, trial, developer
    # Live notifications (WebSocket subscriptions; across processes through REDIS_URL)
    live_init_timeout_seconds: float = 10.0  # connection_init must come within this (4408)
    live_max_subscriptions: int = 5  # operations at once on one socket
    live_max_sockets_per_user: int = 8  # signed-in sockets of one user in one process
    live_max_pending_per_address: int = 16  # sockets not yet signed in, per client address
    live_max_sockets_per_address: int = 32  # all sockets from one client address
    live_subscribes_per_minute: int = 30  # subscribe messages one socket may send a minute
    live_queue_size: int = 256  # events waiting per subscriber; beyond, it reads the inbox
    live_keepalive_seconds: float = 15.0  # Redis pub/sub: a PING after this long idle
    live_reconnect_seconds: float = 0.5  # first wait before reconnecting (doubling, jitter)
    live_reconnect_max_seconds: float = 30.0
    live_session_check_seconds: float = 30.0  # how soon a signed-out session's sockets close

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def auth(self) -> AuthConfig:
        return AuthConfig(
            secret_key=self.secret_key,
            access_token_seconds=self.access_token_seconds,
            refresh_token_seconds=self.refresh_token_seconds,
            refresh_reuse_grace_seconds=self.refresh_reuse_grace_seconds,
            argon2_time_cost=self.argon2_time_cost,
            argon2_memory_kib=self.argon2_memory_kib,
        )

    @property
    def id_key(self) -> str:
        return self.id_number_key or derive_key(self.secret_key)

    def with_overrides(self, **kwargs: Any) -> Settings:
        return replace(self, **kwargs)

    def tortoise_config(self) -> dict[str, Any]:
        return tortoise_config(self.database_url, self.fast_paths)

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
        config = Config(environ=environ if environ is not None else os.environ)
        env = config("CUNWU_ENV", default="development")
        data_dir = Path(config("DATA_DIR", default="data")).resolve()
        database_url = config("DATABASE_URL", default="") or sqlite_url(data_dir / "cunwu.sqlite3")
        media_root = Path(config("MEDIA_ROOT", default=str(data_dir / "media"))).resolve()
        secret_key = config("SECRET_KEY", default="")
        if not secret_key:
            if env == "production":
                raise SettingsError("SECRET_KEY must be set when CUNWU_ENV=production")
            secret_key = _local_secret(data_dir)
        if env == "production" and len(secret_key.encode()) < 32:
            raise SettingsError("SECRET_KEY must have at least 32 bytes")
        id_number_key = config("ID_NUMBER_KEY", default="")
        if id_number_key and len(id_number_key.encode()) < 32:
            raise SettingsError("ID_NUMBER_KEY must have at least 32 bytes")
        return cls(
            env=env,
            data_dir=data_dir,
            database_url=database_url,
            redis_url=config("REDIS_URL", default="") or None,
            redis_prefix=config("REDIS_PREFIX", default="cunwu:"),
            media_root=media_root,
            secret_key=secret_key,
            id_number_key=id_number_key,
            host=config("HOST", default="127.0.0.1"),
            port=config("PORT", cast=int, default=8000),
            demo=config("CUNWU_DEMO", cast=bool, default=True),
            access_token_seconds=config("ACCESS_TOKEN_SECONDS", cast=int, default=15 * 60),
            viewer_cache_seconds=config("VIEWER_CACHE_SECONDS", cast=float, default=60.0),
            query_concurrency=config("QUERY_CONCURRENCY", cast=int, default=8),
            viewer_cache_size=config("VIEWER_CACHE_SIZE", cast=int, default=10_000),
            flag_response_days=config("FLAG_RESPONSE_DAYS", cast=int, default=5),
            notice_resend_days=config("NOTICE_RESEND_DAYS", cast=int, default=3),
            sms_code_seconds=config("SMS_CODE_SECONDS", cast=int, default=300),
            sms_code_attempts=config("SMS_CODE_ATTEMPTS", cast=int, default=5),
            sms_code_phone_limits=_limits(config, "SMS_CODE_PHONE_LIMITS", "1/60,5/3600,10/86400"),
            sms_code_ip_limits=_limits(config, "SMS_CODE_IP_LIMITS", "10/60,60/3600,200/86400"),
            font_path=config("FONT_PATH", default="") or None,
            media_max_bytes=config("MEDIA_MAX_BYTES", cast=int, default=15 * 1024 * 1024),
            media_max_pixels=config("MEDIA_MAX_PIXELS", cast=int, default=100_000_000),
            refresh_token_seconds=config("REFRESH_TOKEN_SECONDS", cast=int, default=30 * 24 * 3600),
            fast_paths=config("CUNWU_FAST_PATHS", cast=bool, default=True),
            response_cache=config("RESPONSE_CACHE", cast=bool, default=True),
            response_cache_bytes=config("RESPONSE_CACHE_BYTES", cast=int, default=64 << 20),
            response_cache_ttl_seconds=config("RESPONSE_CACHE_TTL_SECONDS", cast=int, default=600),
            response_cache_max_age=config("RESPONSE_CACHE_MAX_AGE", cast=int, default=30),
            graphiql=config("CUNWU_GRAPHIQL", cast=bool, default=env != "production"),
            trusted_proxies=_trusted_proxies(config("TRUSTED_PROXIES", default="")),
            cors_origins=_origins(config("CORS_ORIGINS", default="")),
            hsts_seconds=config("HSTS_SECONDS", cast=int, default=0),
            max_json_body_bytes=config("MAX_JSON_BODY_BYTES", cast=int, default=1_000_000),
            jobs=config("CUNWU_JOBS", cast=bool, default=True),
            job_concurrency=config("JOB_CONCURRENCY", cast=int, default=10),
            job_lease_seconds=config("JOB_LEASE_SECONDS", cast=float, default=60.0),
            job_poll_seconds=config("JOB_POLL_SECONDS", cast=float, default=1.0),
            job_backoff_seconds=config("JOB_BACKOFF_SECONDS", cast=float, default=5.0),
            job_stop_grace_seconds=config("JOB_STOP_GRACE_SECONDS", cast=float, default=10.0),
            scheduler_wakeup_seconds=config("SCHEDULER_WAKEUP_SECONDS", cast=float, default=0)
            or None,
            live_init_timeout_seconds=config("LIVE_INIT_TIMEOUT_SECONDS", cast=float, default=10.0),
            live_max_subscriptions=config("LIVE_MAX_SUBSCRIPTIONS", cast=int, default=5),
            live_max_sockets_per_user=config("LIVE_MAX_SOCKETS_PER_USER", cast=int, default=8),
            live_max_pending_per_address=config(
                "LIVE_MAX_PENDING_PER_ADDRESS", cast=int, default=16
            ),
            live_max_sockets_per_address=config(
                "LIVE_MAX_SOCKETS_PER_ADDRESS", cast=int, default=32
            ),
            live_subscribes_per_minute=config("LIVE_SUBSCRIBES_PER_MINUTE", cast=int, default=30),
            live_queue_size=config("LIVE_QUEUE_SIZE", cast=int, default=256),
            live_keepalive_seconds=config("LIVE_KEEPALIVE_SECONDS", cast=float, default=15.0),
            live_reconnect_seconds=config("LIVE_RECONNECT_SECONDS", cast=float, default=0.5),
            live_reconnect_max_seconds=config(
                "LIVE_RECONNECT_MAX_SECONDS", cast=float, default=30.0
            ),
            live_session_check_seconds=config(
                "LIVE_SESSION_CHECK_SECONDS", cast=float, default=30.0
            ),
            job_modules=tuple(
                m.strip() for m in config("CUNWU_JOB_MODULES", default="").split(",") if m.strip()
            ),
            **_channel_settings(config, environ if environ is not None else os.environ),
        )


SMS_PROVIDERS = ("log", "aliyun", "tencent")


def _templates(environ: Any, prefix: str) -> dict[str, str]:
    """SMS_TEMPLATE_VERIFY_CODE=SMS_123 … → {"VERIFY_CODE": "SMS_123", …}"""
    return {k[len(prefix) :]: v for k, v in environ.items() if k.startswith(prefix) and v}


def _channel_settings(config: Config, environ: Any) -> dict[str, Any]:
    provider = config("SMS_PROVIDER", default="log").strip().lower()
    if provider not in SMS_PROVIDERS:
        raise SettingsError(f"SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)}")
    out: dict[str, Any] = {
        "sms_provider": provider,
        "sms_endpoint": config("SMS_ENDPOINT", default="") or None,
        "sms_access_key_id": config("SMS_ACCESS_KEY_ID", default=""),
        "sms_access_key_secret": config("SMS_ACCESS_KEY_SECRET", default=""),
        "sms_sign_name": config("SMS_SIGN_NAME", default=""),
        "sms_region": config("SMS_REGION", default=""),
        "sms_app_id": config("SMS_APP_ID", default=""),
        "sms_templates": _templates(environ, "SMS_TEMPLATE_"),
        "sms_timeout_seconds": config("SMS_TIMEOUT_SECONDS", cast=float, default=10.0),
        "sms_notify_daily_limit": config("SMS_NOTIFY_DAILY_LIMIT", cast=int, default=5),
        "wechat_app_id": config("WECHAT_APP_ID", default=""),
        "wechat_app_secret": config("WECHAT_APP_SECRET", default=""),
        "wechat_base_url": config("WECHAT_BASE_URL", default="https://api.weixin.qq.com"),
        "wechat_templates": _templates(environ, "WECHAT_TEMPLATE_"),
        "wechat_page": config("WECHAT_PAGE", default=""),
        "wechat_state": config("WECHAT_STATE", default="formal"),
    }
    if provider != "log":
        missing = [
            name
            for name, key in (
                ("SMS_ACCESS_KEY_ID", "sms_access_key_id"),
                ("SMS_ACCESS_KEY_SECRET", "sms_access_key_secret"),
                ("SMS_SIGN_NAME", "sms_sign_name"),
            )
            if not out[key]
        ]
        if provider == "tencent" and not out["sms_app_id"]:
            missing.append("SMS_APP_ID")
        if missing:
            raise SettingsError(f"SMS_PROVIDER={provider} needs {', '.join(missing)}")
    return out


def _limits(config: Config, name: str, default: str) -> tuple[tuple[int, int], ...]:
    """`count/seconds` pairs separated by commas, e.g. `1/60,5/3600`."""
    value = config(name, default=default)
    limits = []
    for entry in (e.strip() for e in value.split(",") if e.strip()):
        count, _, window = entry.partition("/")
        try:
            limits.append((int(count), int(window)))
        except ValueError:
            raise SettingsError(f"{name}: {entry!r} is not count/seconds") from None
        if limits[-1][0] < 1 or limits[-1][1] < 1:
            raise SettingsError(f"{name}: {entry!r} must be positive")
    return tuple(limits)


def _trusted_proxies(value: str) -> tuple[str, ...]:
    entries = tuple(e.strip() for e in value.split(",") if e.strip())
    for entry in entries:
        try:
            ip_network(entry, strict=False)
        except ValueError:
            raise SettingsError(
                f"TRUSTED_PROXIES: {entry!r} is not an address or network"
            ) from None
    return entries


def _origins(value: str) -> tuple[str, ...]:
    """`CORS_ORIGINS`: exact origins, comma-separated; a wildcard is refused (the API takes
    bearer tokens from the browser's storage: only named origins may read its answers)."""
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        scheme, sep, host = origin.partition("://")
        if origin == "*" or not sep or scheme not in ("http", "https") or not host or "/" in host:
            raise SettingsError(f"CORS_ORIGINS: {origin!r} is not an origin (https://host[:port])")
    return origins


def sqlite_url(path: Path) -> str:
    return f"sqlite://{path}"


def tortoise_config(database_url: str, fast_paths: bool = True) -> dict[str, Any]:
    connection: Any = database_url
    if database_url.startswith(("postgres://", "asyncpg://")):
        connection = expand_db_url(database_url)
        if fast_paths:
            connection = without_pool_reset(connection)
    return {
        "connections": {"default": connection},
        "apps": {
            "cunwu": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _local_secret(data_dir: Path) -> str:
    """A development secret generated once and kept in DATA_DIR, so tokens survive restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def __getattr__(name: str) -> Any:
    # The tortoise CLI reads `api.settings.TORTOISE_ORM`; build it lazily from the environment.
    if name == "TORTOISE_ORM":
        return Settings.from_env().tortoise_config()
    raise AttributeError(name)
