//! The cookies the web UI sets: the session (the core's login token),
//! the login form's anti-forgery seed, and the language. The session and
//! the seed are `HttpOnly` and `SameSite=Strict`, and `Secure` (with the
//! `__Host-` prefix) when the server speaks TLS.

use axum::http::{HeaderMap, HeaderValue, header};

/// The session cookie's name without its prefix.
const SESSION: &str = "custodia_session";
/// The login form's anti-forgery seed (there is no session yet).
const LOGIN_SEED: &str = "custodia_login";
/// The chosen language; not a secret.
pub const LANG: &str = "custodia_lang";

/// How cookies are written on this server.
#[derive(Debug, Clone, Copy)]
pub struct Jar {
    pub tls: bool,
}

impl Jar {
    fn name(self, base: &str) -> String {
        if self.tls {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    fn private(self, base: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        let mut cookie = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Strict",
            self.name(base)
        );
        if self.tls {
            cookie.push_str("; Secure");
        }
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={age}"));
        }
        // Values are hex tokens or `deleted`: always a valid header.
        HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static("invalid=1"))
    }

    /// `Set-Cookie` for a new session; it lives as long as the session.
    pub fn session(self, token: &str, seconds: i64) -> HeaderValue {
        self.private(SESSION, token, Some(seconds.max(0)))
    }

    /// `Set-Cookie` that removes the session.
    pub fn end_session(self) -> HeaderValue {
        self.private(SESSION, "deleted", Some(0))
    }

    /// `Set-Cookie` for the login form's seed.
    pub fn login_seed(self, seed: &str) -> HeaderValue {
        self.private(LOGIN_SEED, seed, Some(3600))
    }

    /// The session token the browser sent.
    pub fn session_of(self, headers: &HeaderMap) -> Option<String> {
        read(headers, &self.name(SESSION))
    }

    /// The login seed the browser sent.
    pub fn login_seed_of(self, headers: &HeaderMap) -> Option<String> {
        read(headers, &self.name(LOGIN_SEED))
    }
}

/// `Set-Cookie` for the language, a year long.
pub fn lang(code: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{LANG}={code}; Path=/; SameSite=Strict; Max-Age=31536000"
    ))
    .unwrap_or(HeaderValue::from_static("invalid=1"))
}

/// A cookie's value from the request's `Cookie` headers.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v != "deleted")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookie_is_http_only_strict_and_secure_under_tls() {
        let plain = Jar { tls: false }.session("abc", 60);
        let plain = plain.to_str().unwrap_or_default();
        assert!(plain.starts_with("custodia_session=abc;"));
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        let tls = Jar { tls: true }.session("abc", 60);
        let tls = tls.to_str().unwrap_or_default();
        assert!(tls.starts_with("__Host-custodia_session=abc;"));
        assert!(tls.contains("; Secure"));
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("xcustodia_session=evil; custodia_session=good"),
        );
        assert_eq!(
            Jar { tls: false }.session_of(&headers).as_deref(),
            Some("good")
        );
    }
}
