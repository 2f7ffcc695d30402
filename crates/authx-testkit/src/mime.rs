//! A small MIME reader, enough to check what lettre writes: headers (unfolded), and the parts
//! of a `multipart/alternative` body decoded by their transfer encoding.

use base64::Engine as _;

/// A message: its headers and its raw body.
#[derive(Debug, Clone)]
pub struct Message {
    /// Header names (lower case) and values (unfolded, trimmed), in order.
    pub headers: Vec<(String, String)>,
    /// The body as sent.
    pub body: String,
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Its `Content-Type`.
    pub content_type: String,
    /// Its body, decoded.
    pub body: String,
}

impl Message {
    /// Splits `raw` (CRLF line ends) into headers and body at the first blank line.
    pub fn parse(raw: &str) -> Self {
        let (headers, body) = split_headers(raw);
        Self {
            headers,
            body: body.to_owned(),
        }
    }

    /// The first header `name` (any case); panics when there is none.
    pub fn header(&self, name: &str) -> &str {
        header(&self.headers, name)
    }

    /// The content types and decoded bodies of the parts of a `multipart/alternative` body.
    pub fn alternative_parts(&self) -> Vec<Part> {
        let content_type = self.header("content-type");
        assert!(
            content_type.starts_with("multipart/alternative"),
            "Content-Type is {content_type}"
        );
        let delimiter = format!("--{}", boundary(content_type));
        self.body
            .split(delimiter.as_str())
            .skip(1)
            .filter(|part| !part.starts_with("--"))
            .map(|part| {
                let part = part.strip_prefix("\r\n").unwrap_or(part);
                let (part_headers, part_body) = split_headers(part);
                let part_body = part_body.strip_suffix("\r\n").unwrap_or(part_body);
                Part {
                    content_type: header(&part_headers, "content-type").to_owned(),
                    body: decode_part(&part_headers, part_body),
                }
            })
            .collect()
    }
}

fn split_headers(entity: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = entity
        .split_once("\r\n\r\n")
        .expect("headers end with a blank line");
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("continuation after a header");
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (name, value) = line.split_once(':').expect("header has a colon");
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> &'h str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or_else(
            || panic!("no {name} header in {headers:?}"),
            |(_, v)| v.as_str(),
        )
}

fn boundary(content_type: &str) -> String {
    let start = content_type
        .find("boundary=")
        .expect("multipart has a boundary")
        + "boundary=".len();
    let rest = &content_type[start..];
    let end = rest.find(';').unwrap_or(rest.len());
    rest[..end].trim().trim_matches('"').to_owned()
}

fn decode_quoted_printable(body: &str) -> String {
    let mut out = Vec::new();
    let bytes = body.replace("=\r\n", "").into_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii escape");
            out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("decoded part is UTF-8")
}

fn decode_part(headers: &[(String, String)], body: &str) -> String {
    match header(headers, "content-transfer-encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "7bit" | "8bit" => body.to_owned(),
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("valid base64");
            String::from_utf8(bytes).expect("decoded part is UTF-8")
        }
        other => panic!("unexpected transfer encoding {other}"),
    }
}
