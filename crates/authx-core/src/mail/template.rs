//! Mail templates: a tiny `{placeholder}` engine, with HTML escaping in the HTML part.

use crate::mail::Mail;

/// The values a template can use: `{site}`, `{username}`, `{email}`, `{link}`.
#[derive(Debug, Clone, Copy)]
pub struct TemplateValues<'a> {
    /// The site's name.
    pub site: &'a str,
    /// The recipient's username.
    pub username: &'a str,
    /// The recipient's address.
    pub email: &'a str,
    /// The link to follow (built from `base_url`, never from the request).
    pub link: &'a str,
}

/// One mail's subject, text part and HTML part, with `{placeholders}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTemplate {
    /// Subject line.
    pub subject: String,
    /// Plain-text part. Keep `{link}` on a line of its own.
    pub text: String,
    /// HTML part; values are HTML-escaped when substituted.
    pub html: String,
}

impl MailTemplate {
    /// Renders the template for `values` (the recipient is set by the caller).
    pub fn render(&self, values: &TemplateValues<'_>) -> Mail {
        let fill = |template: &str, escape: bool| {
            let esc = |s: &str| if escape { html_escape(s) } else { s.to_owned() };
            // One pass, so a value containing `{link}` is never expanded again.
            let mut out = String::with_capacity(template.len() + 128);
            let mut rest = template;
            while let Some(start) = rest.find('{') {
                out.push_str(&rest[..start]);
                let after = &rest[start..];
                let end = after.find('}').map_or(0, |e| e + 1);
                let value = match &after[..end] {
                    "{site}" => Some(esc(values.site)),
                    "{username}" => Some(esc(values.username)),
                    "{email}" => Some(esc(values.email)),
                    "{link}" => Some(esc(values.link)),
                    _ => None,
                };
                if let Some(value) = value {
                    out.push_str(&value);
                    rest = &after[end..];
                } else {
                    out.push('{');
                    rest = &after[1..];
                }
            }
            out.push_str(rest);
            out
        };
        Mail {
            to: values.email.to_owned(),
            subject: fill(&self.subject, false).replace(['\r', '\n'], " "),
            text: fill(&self.text, false),
            html: fill(&self.html, true),
        }
    }
}

/// The templates of every mail authx sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTemplates {
    /// The email confirmation mail (subject `Confirm email`).
    pub confirmation: MailTemplate,
    /// The password reset mail (subject `Forgot password`).
    pub reset: MailTemplate,
    /// The notice that the password was reset, changed or set (subject `Password changed`);
    /// `{link}` is the site's `base_url`.
    pub password_changed: MailTemplate,
}

impl Default for MailTemplates {
    fn default() -> Self {
        Self {
            confirmation: MailTemplate {
                subject: "Confirm email".into(),
                text: "Hello {username},\n\n\
                       please confirm your email address for {site} by opening this link:\n\n\
                       {link}\n\n\
                       The link works once, for 24 hours. If you did not sign up at {site}, \
                       ignore this mail.\n"
                    .into(),
                html: "<!doctype html>\n<html><body>\n\
                       <p>Hello {username},</p>\n\
                       <p>please confirm your email address for {site}:</p>\n\
                       <p><a href=\"{link}\">Confirm email</a></p>\n\
                       <p>Or copy this link into your browser: {link}</p>\n\
                       <p>The link works once, for 24 hours. If you did not sign up at {site}, \
                       ignore this mail.</p>\n\
                       </body></html>\n"
                    .into(),
            },
            reset: MailTemplate {
                subject: "Forgot password".into(),
                text: "Hello {username},\n\n\
                       someone asked to reset the password of your {site} account. To choose a \
                       new one, open this link:\n\n\
                       {link}\n\n\
                       The link works once, for one hour. If you did not ask for it, ignore \
                       this mail: your password stays as it is.\n"
                    .into(),
                html: "<!doctype html>\n<html><body>\n\
                       <p>Hello {username},</p>\n\
                       <p>someone asked to reset the password of your {site} account.</p>\n\
                       <p><a href=\"{link}\">Choose a new password</a></p>\n\
                       <p>Or copy this link into your browser: {link}</p>\n\
                       <p>The link works once, for one hour. If you did not ask for it, ignore \
                       this mail: your password stays as it is.</p>\n\
                       </body></html>\n"
                    .into(),
            },
            password_changed: MailTemplate {
                subject: "Password changed".into(),
                text: "Hello {username},\n\n\
                       the password of your {site} account was just changed.\n\n\
                       If it was you, there is nothing to do. If it was not, ask for a new \
                       password at once with \"Forgot password\" on\n\n\
                       {link}\n\n\
                       and check your account's sessions.\n"
                    .into(),
                html: "<!doctype html>\n<html><body>\n\
                       <p>Hello {username},</p>\n\
                       <p>the password of your {site} account was just changed.</p>\n\
                       <p>If it was you, there is nothing to do. If it was not, ask for a new \
                       password at once with &ldquo;Forgot password&rdquo; on \
                       <a href=\"{link}\">{link}</a> and check your account's sessions.</p>\n\
                       </body></html>\n"
                    .into(),
            },
        }
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_the_link_on_its_own_line_and_escapes_html() {
        let mail = MailTemplates::default()
            .confirmation
            .render(&TemplateValues {
                site: "Tom & Jerry's",
                username: "bob",
                email: "bob@example.com",
                link: "http://localhost:8000/confirm?token=abc&x={site}",
            });
        assert_eq!(mail.subject, "Confirm email");
        assert!(
            mail.text
                .lines()
                .any(|l| l == "http://localhost:8000/confirm?token=abc&x={site}")
        );
        assert!(mail.html.contains("Tom &amp; Jerry&#39;s"));
        assert!(
            mail.html
                .contains("href=\"http://localhost:8000/confirm?token=abc&amp;x={site}\"")
        );
        assert_eq!(mail.to, "bob@example.com");
    }

    #[test]
    fn the_password_notice_names_the_site_and_links_to_it() {
        let mail = MailTemplates::default()
            .password_changed
            .render(&TemplateValues {
                site: "Example <Shop>",
                username: "ada",
                email: "ada@example.com",
                link: "https://example.com",
            });
        assert_eq!(mail.subject, "Password changed");
        assert!(mail.text.contains("your Example <Shop> account"));
        assert!(mail.text.lines().any(|l| l == "https://example.com"));
        assert!(mail.html.contains("Example &lt;Shop&gt;"));
        assert!(mail.html.contains("href=\"https://example.com\""));
        assert_eq!(mail.to, "ada@example.com");
    }

    #[test]
    fn unknown_braces_stay() {
        let t = MailTemplate {
            subject: "{nope} {site".into(),
            text: String::new(),
            html: String::new(),
        };
        let v = TemplateValues {
            site: "s",
            username: "u",
            email: "e",
            link: "l",
        };
        assert_eq!(t.render(&v).subject, "{nope} {site");
    }
}
