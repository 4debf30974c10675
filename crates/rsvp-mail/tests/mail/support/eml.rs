//! A small, strict reader of the messages the transports produce: headers
//! (unfolded, RFC 2047 encoded words decoded), one `multipart/alternative`
//! level, and part bodies in 7bit, 8bit, quoted-printable or base64.

use base64::Engine as _;

/// One parsed message.
#[derive(Debug)]
pub struct Eml {
    pub headers: Vec<(String, String)>,
    pub parts: Vec<Part>,
}

/// One MIME part, its body decoded, line ends as `\n`.
#[derive(Debug)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Part {
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }
}

impl Eml {
    /// Parses `raw`; panics with a reason when it is not a well-formed
    /// multipart/alternative message.
    pub fn parse(raw: &[u8]) -> Self {
        let raw = std::str::from_utf8(raw).expect("the message is not UTF-8 (it should be 7-bit or 8-bit text)");
        assert!(raw.contains("\r\n"), "RFC 5322 messages end lines with CRLF");
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = split_head(&raw);
        let headers = parse_headers(head);
        let content_type = find(&headers, "Content-Type").expect("no Content-Type header");
        assert!(
            content_type.starts_with("multipart/alternative"),
            "expected multipart/alternative, got {content_type}"
        );
        let boundary = param(content_type, "boundary").expect("no boundary");
        let delimiter = format!("--{boundary}");
        let mut chunks = body.split(delimiter.as_str());
        chunks.next(); // the preamble
        let mut parts = Vec::new();
        let mut closed = false;
        for chunk in chunks {
            if chunk.starts_with("--") {
                closed = true;
                break;
            }
            let chunk = chunk
                .strip_prefix('\n')
                .expect("a delimiter line must end with a line break");
            let chunk = chunk.strip_suffix('\n').unwrap_or(chunk);
            let (part_head, part_body) = split_head(chunk);
            let part_headers = parse_headers(part_head);
            let encoding = find(&part_headers, "Content-Transfer-Encoding")
                .unwrap_or("7bit")
                .to_ascii_lowercase();
            let body = decode_body(&encoding, part_body);
            parts.push(Part {
                headers: part_headers,
                body,
            });
        }
        assert!(closed, "the multipart body has no closing delimiter");
        Self { headers, parts }
    }

    /// The first header of that name (case-insensitive), decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// The part whose Content-Type starts with `mime` (`text/plain`, ...).
    pub fn part(&self, mime: &str) -> &Part {
        self.parts
            .iter()
            .find(|p| p.header("Content-Type").is_some_and(|ct| ct.starts_with(mime)))
            .unwrap_or_else(|| panic!("no {mime} part"))
    }
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn split_head(s: &str) -> (&str, &str) {
    s.split_once("\n\n")
        .expect("no blank line between the headers and the body")
}

fn parse_headers(head: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("a continuation line before any header");
            last.1.push_str(line);
        } else {
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("not a header line: {line:?}"));
            assert!(!name.is_empty() && !name.contains(' '), "bad header name {name:?}");
            headers.push((name.to_owned(), value.trim_start().to_owned()));
        }
    }
    headers.into_iter().map(|(n, v)| (n, decode_words(v.trim()))).collect()
}

/// A parameter of a header value: `multipart/alternative; boundary="x"`.
fn param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn decode_body(encoding: &str, body: &str) -> String {
    match encoding {
        "7bit" | "8bit" => body.to_owned(),
        "quoted-printable" => String::from_utf8(decode_quoted_printable(body)).expect("QP body is not UTF-8"),
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("bad base64 body");
            String::from_utf8(bytes)
                .expect("base64 body is not UTF-8")
                .replace("\r\n", "\n")
        }
        other => panic!("unexpected Content-Transfer-Encoding {other}"),
    }
}

fn decode_quoted_printable(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2; // soft line break
                continue;
            }
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad QP escape ={hex}")));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`);
/// white space between two encoded words is dropped.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while !rest.is_empty() {
        let Some(start) = rest.find("=?") else {
            out.push_str(rest);
            break;
        };
        let between = &rest[..start];
        if !(last_was_word && between.trim().is_empty()) {
            out.push_str(between);
        }
        let word = &rest[start + 2..];
        let mut pieces = word.splitn(3, '?');
        let (Some(charset), Some(enc), Some(tail)) = (pieces.next(), pieces.next(), pieces.next()) else {
            out.push_str(&rest[start..]);
            break;
        };
        let Some(end) = tail.find("?=") else {
            out.push_str(&rest[start..]);
            break;
        };
        assert!(charset.eq_ignore_ascii_case("utf-8"), "unexpected charset {charset}");
        let text = &tail[..end];
        let bytes = match enc {
            "b" | "B" => base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("bad B word"),
            "q" | "Q" => decode_quoted_printable(&text.replace('_', " ")),
            other => panic!("unexpected encoded-word encoding {other}"),
        };
        out.push_str(&String::from_utf8(bytes).expect("encoded word is not UTF-8"));
        rest = &tail[end + 2..];
        last_was_word = true;
    }
    out
}
