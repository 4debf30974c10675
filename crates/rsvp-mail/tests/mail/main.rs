//! rsvp-mail against real parts: the renderer with its built-in and
//! operator templates, the log transport on a real directory, the SMTP
//! transport against a real SMTP server (aiosmtpd, started per test) and
//! the Postmark transport against a local HTTP server standing in for
//! Postmark. Run with `cargo nextest run -p rsvp-mail`.

mod http;
mod log_mailer;
mod remote_content;
mod renderer;
mod smtp;
mod support;
