//! No email loads anything from elsewhere: no remote image, no tracking
//! pixel, no remote stylesheet or CSS `url(...)`. Checked on every HTML
//! template file as written and on every email as rendered (both
//! languages, reminder or not, with each kind of brand), by a checker that
//! is itself tested on bad samples.

use rsvp_app::{Branding, EmailRenderer, ExpiryNoticeEmail, Locale};
use rsvp_mail::TemplateRenderer;
use time::macros::datetime;

use crate::support::invitation;

/// Attributes whose URL a mail client fetches by itself (an `href` is only
/// followed on a click, but a `<link>`'s is fetched).
const FETCHED: [&str; 6] = ["src", "srcset", "background", "poster", "data", "lowsrc"];

/// Whether a URL a client would fetch stays inside the email: an inline
/// `data:` image or a `cid:` part of the message. Anything else (`https:`,
/// `http:`, `//host`, a relative path) is fetched from a server.
fn is_inline(url: &str) -> bool {
    let url = url.trim().trim_matches(['"', '\'']).trim().to_ascii_lowercase();
    url.starts_with("data:") || url.starts_with("cid:")
}

/// The attributes of one tag's text (after its name): `(name, value)`,
/// names lowercased, values unquoted.
fn attributes(mut rest: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        if name_end == 0 {
            return found;
        }
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, next) = match after.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let end = body.find(quote).unwrap_or(body.len());
                    (&body[..end], body.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            rest = next;
            value.to_owned()
        } else {
            String::new()
        };
        found.push((name, value));
    }
}

/// The arguments of every CSS `url(...)` and `@import` in `css`.
fn css_urls(css: &str) -> Vec<String> {
    let lower = css.to_ascii_lowercase();
    let mut urls: Vec<String> = lower
        .match_indices("url(")
        .map(|(at, _)| {
            let rest = &lower[at + 4..];
            rest[..rest.find(')').unwrap_or(rest.len())].to_owned()
        })
        .collect();
    for (at, _) in lower.match_indices("@import") {
        let rest = lower[at + 7..].trim_start();
        if !rest.starts_with("url(") {
            urls.push(rest.split([';', ' ']).next().unwrap_or_default().to_owned());
        }
    }
    urls
}

/// Whether a size given as an attribute (`1`, `1px`) or a CSS length is one
/// pixel or less: the size of a tracking pixel.
fn is_pixel(size: &str) -> bool {
    let size = size.trim().trim_end_matches("px").trim();
    size.parse::<f64>().is_ok_and(|n| n <= 1.0)
}

/// Everything in `html` that a mail client would load from a server, or
/// that is a tracking pixel, described; empty when the email is
/// self-contained.
fn remote_content(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let tag = &rest[open + 1..];
        let close = tag.find('>').unwrap_or(tag.len());
        let inside = &tag[..close];
        rest = &tag[close..];
        let name_end = inside
            .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
            .unwrap_or(inside.len());
        let name = inside[..name_end].to_ascii_lowercase();
        if name.is_empty() || name.starts_with('!') || name.starts_with('/') {
            continue;
        }
        let attrs = attributes(&inside[name_end..]);
        for (attr, value) in &attrs {
            let fetched = FETCHED.contains(&attr.as_str()) || (name == "link" && attr == "href");
            let urls: Vec<&str> = if attr == "srcset" {
                value
                    .split(',')
                    .map(|candidate| candidate.trim().split(' ').next().unwrap_or(""))
                    .collect()
            } else {
                vec![value.as_str()]
            };
            if fetched && urls.iter().any(|url| !is_inline(url)) {
                found.push(format!("<{name} {attr}=\"{value}\">"));
            }
            if attr == "style" {
                for url in css_urls(value) {
                    if !is_inline(&url) {
                        found.push(format!("<{name} style> url({url})"));
                    }
                }
            }
        }
        if name == "img" {
            let style = attrs
                .iter()
                .find(|(attr, _)| attr == "style")
                .map(|(_, v)| v.to_ascii_lowercase())
                .unwrap_or_default();
            let css_size = |property: &str| {
                style.split(';').find_map(|decl| {
                    let (key, value) = decl.split_once(':')?;
                    (key.trim() == property).then(|| value.trim().to_owned())
                })
            };
            let size = |dimension: &str| {
                attrs
                    .iter()
                    .find(|(attr, _)| attr == dimension)
                    .map(|(_, v)| v.clone())
                    .or_else(|| css_size(dimension))
            };
            if size("width").is_some_and(|w| is_pixel(&w)) || size("height").is_some_and(|h| is_pixel(&h)) {
                found.push(format!("a tracking pixel: <{inside}>"));
            }
        }
    }
    // Style sheets in the document: every `url(...)` and `@import` in them.
    for (at, _) in lower.match_indices("<style") {
        let sheet = &lower[at..];
        let sheet = &sheet[..sheet.find("</style").unwrap_or(sheet.len())];
        for url in css_urls(sheet) {
            if !is_inline(&url) {
                found.push(format!("<style> url({url})"));
            }
        }
    }
    found
}

#[test]
fn the_checker_finds_remote_images_pixels_stylesheets_and_css_urls_in_any_spelling() {
    for bad in [
        r#"<p><img src="https://t.example/open.gif" alt=""></p>"#,
        r#"<IMG SRC='http://t.example/logo.png'>"#,
        r#"<img alt=x src=//cdn.example/logo.png>"#,
        r#"<img src = "/logo.png">"#,
        r#"<img srcset="data:image/png;base64,AAAA 1x, https://cdn.example/2x.png 2x">"#,
        r#"<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="1" height="1">"#,
        r#"<img src="cid:pixel" style="width:1px;height:1px">"#,
        r#"<img src="cid:pixel" height="0">"#,
        r#"<table background="https://cdn.example/bg.png"><tr><td>x</td></tr></table>"#,
        r#"<td style="background-image: url('https://cdn.example/bg.png')">x</td>"#,
        r#"<div style="background:URL(//cdn.example/bg.png)">x</div>"#,
        r#"<link rel="stylesheet" href="https://cdn.example/mail.css">"#,
        "<style>@import url(https://cdn.example/mail.css);</style>",
        "<style>@import 'https://cdn.example/mail.css';</style>",
        "<style>.logo { background: url(https://cdn.example/logo.png) }</style>",
        r#"<iframe src="https://t.example/frame"></iframe>"#,
        r#"<video poster="https://t.example/poster.png"></video>"#,
    ] {
        assert!(!remote_content(bad).is_empty(), "not caught: {bad}");
    }
}

#[test]
fn the_checker_lets_links_inline_images_and_plain_text_through() {
    let good = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><style>p { color: #111 }</style></head>
<body style="margin:0;background-color:#f3f4f6;">
<p><img src="data:image/png;base64,iVBORw0KGgo=" alt="Acme" style="max-height:40px;max-width:200px;border:0;"></p>
<p><img src="cid:logo@rsvp" width="120" height="40" alt=""></p>
<p>Write url(https://x.example) or @import in text: it is not loaded.</p>
<a href="https://rsvp.example/invite/tok" style="color:#2563eb;">View the invitation</a>
</body></html>"#;
    assert_eq!(remote_content(good), Vec::<String>::new());
}

#[test]
fn no_html_email_template_file_loads_anything_from_elsewhere() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/templates");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "html") {
            let html = std::fs::read_to_string(&path).unwrap();
            // A URL that is a template value (`{{ logo_url }}`) is judged
            // where it is rendered (below).
            let fixed: Vec<String> = remote_content(&html)
                .into_iter()
                .filter(|found| !found.contains("=\"{{"))
                .collect();
            assert_eq!(fixed, Vec::<String>::new(), "{}", path.display());
            checked += 1;
        }
    }
    // The invitation's and the expiry notice's, in English and German.
    assert!(checked >= 4, "{checked} templates in {}", dir.display());
}

#[test]
fn no_rendered_email_loads_anything_from_elsewhere_whatever_the_brand() {
    let brands = [
        Branding::default(),
        // An https logo brands the page; an email never fetches it.
        Branding::new(
            "Acme Network",
            Some("#0f766e"),
            Some("https://cdn.acme.example/logo.png"),
        )
        .unwrap(),
        Branding::new("Acme Network", None, Some("data:image/png;base64,iVBORw0KGgo=")).unwrap(),
    ];
    for brand in brands {
        let renderer = TemplateRenderer::new().with_branding(brand.clone());
        for locale in [Locale::En, Locale::De] {
            for is_reminder in [false, true] {
                let mut email = invitation(locale);
                email.is_reminder = is_reminder;
                let html = renderer.render(&email).unwrap().html;
                assert_eq!(
                    remote_content(&html),
                    Vec::<String>::new(),
                    "{brand:?} {locale:?}\n{html}"
                );
                if brand.logo_url().is_some_and(|url| url.starts_with("data:")) {
                    assert!(html.contains("<img src=\"data:image/png"), "an inline logo is shown");
                }
            }
            let notice = ExpiryNoticeEmail {
                locale,
                sender_business: "Acme Ltd".to_owned(),
                sender_user: "Ann Lee".to_owned(),
                invitee_email: "bob@example.com".to_owned(),
                invitee_name: Some("Bob Stone".to_owned()),
                sent_at: datetime!(2026-11-01 10:00 UTC),
                expired_at: datetime!(2026-11-22 10:00 UTC),
            };
            let html = renderer.render_expiry_notice(&notice).unwrap().html;
            assert_eq!(
                remote_content(&html),
                Vec::<String>::new(),
                "{brand:?} {locale:?}\n{html}"
            );
        }
    }
}
