//! [`Branding`]: the operator's product name, colour and logo, shown on the
//! invitee's page and in the emails.

use std::fmt;

/// The operator's brand. Built by [`Branding::new`], which checks every part,
/// so the page and the email templates can put them in styles and `src`
/// attributes as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    product_name: String,
    brand_color: Option<String>,
    logo_url: Option<String>,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            product_name: "rsvp".to_owned(),
            brand_color: None,
            logo_url: None,
        }
    }
}

/// Why a branding setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrandingError {
    /// The product name is empty, longer than 60 characters or holds
    /// control characters.
    #[error("the product name must be 1 to 60 characters without control characters")]
    ProductName,
    /// The colour is not `#rrggbb`.
    #[error("the brand colour must be #rrggbb (six hex digits), got {0:?}")]
    Color(String),
    /// The logo URL is not an `https://` URL (or a `data:image/...` URL).
    #[error("the logo URL must be an https:// URL or a data:image/... URL without spaces or quotes, got {0:?}")]
    LogoUrl(String),
}

/// Longest product name, in characters.
const MAX_PRODUCT_NAME: usize = 60;

fn is_brand_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Printable ASCII that needs no escaping in a `src` attribute, a header or CSS.
fn is_plain_url(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'\\' | b'`' | b'(' | b')'))
}

fn logo_origin(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    (!authority.is_empty() && !authority.contains('@')).then(|| format!("https://{}", authority.to_ascii_lowercase()))
}

impl Branding {
    /// Checks and builds a brand: `product_name` 1 to 60 characters without
    /// control characters, `brand_color` `#rrggbb`, `logo_url` an
    /// `https://host/...` URL or a `data:image/...` URL (printable ASCII,
    /// without quotes, brackets or backslashes).
    ///
    /// ```
    /// use rsvp_app::Branding;
    ///
    /// let brand = Branding::new("Acme Network", Some("#0f766e"), Some("https://cdn.acme.example/logo.png")).unwrap();
    /// assert_eq!(brand.logo_origin().as_deref(), Some("https://cdn.acme.example"));
    /// assert!(Branding::new("Acme", Some("teal"), None).is_err());
    /// ```
    ///
    /// # Errors
    /// The first part that does not hold.
    pub fn new(product_name: &str, brand_color: Option<&str>, logo_url: Option<&str>) -> Result<Self, BrandingError> {
        let product_name = product_name.trim();
        if product_name.is_empty()
            || product_name.chars().count() > MAX_PRODUCT_NAME
            || product_name.chars().any(char::is_control)
        {
            return Err(BrandingError::ProductName);
        }
        let brand_color = match brand_color.map(str::trim).filter(|c| !c.is_empty()) {
            Some(color) if is_brand_color(color) => Some(color.to_ascii_lowercase()),
            Some(color) => return Err(BrandingError::Color(color.to_owned())),
            None => None,
        };
        let logo_url = match logo_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url)
                if is_plain_url(url)
                    && url.len() <= 64 * 1024
                    && (logo_origin(url).is_some() || url.starts_with("data:image/")) =>
            {
                Some(url.to_owned())
            }
            Some(url) => return Err(BrandingError::LogoUrl(url.chars().take(80).collect())),
            None => None,
        };
        Ok(Self {
            product_name: product_name.to_owned(),
            brand_color,
            logo_url,
        })
    }

    /// The product's name (default `rsvp`).
    pub fn product_name(&self) -> &str {
        &self.product_name
    }

    /// The brand colour, `#rrggbb` lowercase, if set.
    pub fn brand_color(&self) -> Option<&str> {
        self.brand_color.as_deref()
    }

    /// The logo's URL, if set.
    pub fn logo_url(&self) -> Option<&str> {
        self.logo_url.as_deref()
    }

    /// What a page's `img-src` must allow for the logo: the logo's origin
    /// (`https://host[:port]`), `data:` for a data URL, `None` without a logo.
    pub fn logo_origin(&self) -> Option<String> {
        let url = self.logo_url.as_deref()?;
        if url.starts_with("data:") {
            Some("data:".to_owned())
        } else {
            logo_origin(url)
        }
    }
}

impl fmt::Display for Branding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.product_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brand_colours_are_six_hex_digits() {
        assert_eq!(
            Branding::new("x", Some("#0F766E"), None).unwrap().brand_color(),
            Some("#0f766e")
        );
        for bad in ["0f766e", "#0f766", "#0f766eff", "#ggg000", "red", "#0f766e;x"] {
            assert!(
                matches!(Branding::new("x", Some(bad), None), Err(BrandingError::Color(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn logos_are_https_or_data_urls_without_quotes() {
        assert!(Branding::new("x", None, Some("data:image/png;base64,AAAA")).is_ok());
        for bad in [
            "http://cdn.example/logo.png",
            "https://",
            "https://a@b/logo.png",
            "https://cdn.example/\"logo.png",
            "https://cdn.example/lo go.png",
            "javascript:alert(1)",
            "data:text/html,<b>",
        ] {
            assert!(
                matches!(Branding::new("x", None, Some(bad)), Err(BrandingError::LogoUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_product_name_is_short_plain_text() {
        assert!(Branding::new("  ", None, None).is_err());
        assert!(Branding::new("a\nb", None, None).is_err());
        assert!(Branding::new(&"n".repeat(61), None, None).is_err());
        assert_eq!(Branding::new(" Acme ", None, None).unwrap().product_name(), "Acme");
    }
}
