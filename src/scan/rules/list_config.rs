//! Credentials in the files tools keep them in: Docker's `config.json` (`auths.*.auth`, also as
//! `DOCKER_AUTH_CONFIG`), `.netrc`/`_netrc`, `.pypirc`, dumps and service configuration, and command
//! lines in scripts and runbooks.

use super::checks;
use super::{Def, Kind, token};

#[allow(clippy::too_many_lines)] // a rule table: one entry per provider format
pub(super) fn rules() -> Vec<Def> {
    vec![
        // Docker's config: `"auth"` is base64 of `user:password` (escaped quotes inside a CI
        // variable or a JSON string).
        token(
            "docker-config-auth",
            "Registry credentials in a Docker config (auths.*.auth)",
            &["\"auth", "\\\"auth"],
            r#"\\?"auth\\?"[ \t]*:[ \t]*\\?"([A-Za-z0-9+/_\-]{6,}={0,2})\\?""#,
        )
        .kind(Kind::Raw)
        .check(checks::basic_credentials),
        // netrc (curl, git, ftp, Heroku's CLI): `machine HOST login USER password SECRET`, on one
        // line or several. A Heroku API key is the password of the `api.heroku.com` entry.
        token(
            "heroku-api-key-netrc",
            "Heroku API key in a netrc entry for api.heroku.com / git.heroku.com",
            &["machine"],
            r"\bmachine[ \t]+(?:api|git)\.heroku\.com\s+(?:login[ \t]+\S+\s+)?password[ \t]+([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|HRKU-[A-Za-z0-9_\-]{20,80})(?:\s|$)",
        )
        .lines(0, 3),
        token(
            "netrc-password",
            "Password in a netrc entry (machine … login … password …)",
            &["machine"],
            r#"\bmachine[ \t]+[\w.\-]+\s+(?:login[ \t]+(?P<name>\S+)\s+)?password[ \t]+([^\s"'`]{4,128})(?:\s|$)"#,
        )
        .group(2)
        .lines(0, 3)
        .kind(Kind::Raw)
        .check(checks::password_literal),
        // .pypirc: `password = …` under an index section (a token has its own rule).
        token(
            "pypirc-password",
            "Package index password in .pypirc",
            &["password"],
            r"(?m)^[ \t]*password[ \t]*[=:][ \t]*(\S{4,128})[ \t]*\r?$",
        )
        .path(r"(?i)(?:^|/)\.pypirc$")
        .kind(Kind::Raw)
        .check(checks::password_literal),
        // Command lines: `mysql -pSECRET` / `-p'SECRET'` (a space after -p means "prompt").
        token(
            "mysql-password-argument",
            "Password on a mysql / mysqldump / mysqladmin command line",
            &["mysql"],
            r#"\bmysql(?:dump|admin|import|sh)?\b[^\n]{0,200}?\s(?:-p|--password=)(?:'([^'\s]{4,128})'|"([^"\s$]{4,128})"|([^\s'"$\-][^\s'"]{3,127}))"#,
        )
        .kind(Kind::Raw)
        .check(checks::password_literal),
        token(
            "redis-password",
            "Redis password (requirepass, redis-cli -a, --requirepass)",
            &["requirepass", "redis-cli"],
            r#"(?:\brequirepass|\bredis-cli\b[^\n]{0,200}?\s(?:-a|--pass))[ \t]+["']?([^\s"']{4,128})"#,
        )
        .kind(Kind::Raw)
        .check(checks::password_literal),
        // Authorization schemes other than Bearer and Basic: Okta's `SSWS`, `Token`, `token=`.
        token(
            "authorization-token-scheme",
            "Token in an Authorization header (SSWS, Token, Bot, Api-Key schemes)",
            &["authorization"],
            r#"(?i:Authorization)\\?["']?\s*[:=,]\s*\\?["']?(?:SSWS|[Tt]oken|Bot|Api-?Key|Key)(?:[ \t]+token=|=|[ \t]+)["']?([A-Za-z0-9+/_.~\-]{16,}={0,2})"#,
        )
        .kind(Kind::Context)
        .check(checks::bearer_value),
        // Service configuration. Compose's `environment:` as a list (`- NAME=value`, quoted or
        // not) or a map (`NAME: value`): a variable naming a secret, given a literal.
        token(
            "compose-environment-secret",
            "Secret in a Compose service's environment (list or map)",
            &["environment:"],
            r#"(?m)^[ \t]*(?:-[ \t]+)?["']?(?P<name>[A-Za-z_][A-Za-z0-9_]{1,80})(?:=|:[ \t]+["']?)([^\s"'#]{4,256})["']?[ \t]*\r?$"#,
        )
        .group(2)
        .lines(0, 120)
        .kind(Kind::Raw)
        .check(checks::compose_environment),
        // .NET `Web.config` / `App.config` `<appSettings>`: `<add key="…Secret…" value="…"/>`.
        token(
            "dotnet-app-setting-secret",
            ".NET app setting with a secret-named key (Web.config / App.config)",
            &["<add"],
            r#"<add\s+key\s*=\s*["'](?P<name>[^"'<>]{1,100})["']\s+value\s*=\s*["']([^"'<>]{4,500})["']"#,
        )
        .group(2)
        .kind(Kind::Raw)
        .check(checks::named_secret_value),
        // ADO.NET / Npgsql / JDBC-style `Key=value;` connection strings (the libpq space-separated
        // form has its own rule).
        token(
            "connection-string-password",
            "Password in a Key=value; connection string (ADO.NET, Npgsql, ODBC)",
            &["password=", "pwd="],
            r"(?i:Server|Data Source|Host|Address|Addr|Network Address|Hostname)[ \t]*=[^\x22'\n<>]{0,200}?;[ \t]*(?i:Password|Pwd)[ \t]*=[ \t]*([^;\x22'\n<>]{4,128}?)[ \t]*(?:;|\x22|'|<|\r?$|\n)",
        )
        .kind(Kind::Raw)
        .check(checks::password_literal),
        // Terraform's Heroku provider: the API key is a UUID (or HRKU-) under `provider "heroku"`.
        token(
            "heroku-api-key-terraform",
            "Heroku API key in a Terraform heroku provider block",
            &["\"heroku\""],
            r#"provider[ \t]+"heroku"[ \t]*\{[^}]{0,600}?\bapi_key[ \t]*=[ \t]*"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|HRKU-[A-Za-z0-9_\-]{20,80})""#,
        )
        .lines(0, 20),
    ]
}
