//! The Unicode facts the value types need: which characters are invisible
//! format controls, which reorder text, and NFC. The tables are ICU4X's
//! compiled data (the same crates `idna` uses for UTS 46), so names, emails
//! and domains are judged by one Unicode version.

use std::borrow::Cow;

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};
use icu_properties::{CodePointMapData, CodePointMapDataBorrowed};

const CATEGORIES: CodePointMapDataBorrowed<'static, GeneralCategory> = CodePointMapData::<GeneralCategory>::new();

/// Whether `c` is of general category Cf ("Other, format"): invisible
/// characters such as U+00AD soft hyphen, U+200B zero width space, U+200E
/// left-to-right mark, U+202E right-to-left override, U+2066..U+2069 isolates,
/// U+FEFF byte order mark, U+E0001 language tag.
pub fn is_format_control(c: char) -> bool {
    CATEGORIES.get(c) == GeneralCategory::Format
}

/// Whether `c` is a bidirectional embedding, override or isolate
/// (U+202A..U+202E, U+2066..U+2069): characters that reorder the text after
/// them, so what is shown differs from what is stored (the "Trojan Source"
/// trick). The implicit marks U+200E, U+200F and U+061C are not among them:
/// they reorder nothing beyond the neutral characters beside them, and
/// mixed-direction prose needs them.
pub fn is_bidi_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` is a combining mark (general category M: Mn, Mc, Me).
pub(crate) fn is_mark(c: char) -> bool {
    GeneralCategoryGroup::Mark.contains(CATEGORIES.get(c))
}

/// `text` in Unicode Normalization Form C.
pub(crate) fn nfc(text: &str) -> Cow<'_, str> {
    ComposingNormalizerBorrowed::new_nfc().normalize(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_controls_are_exactly_general_category_cf() {
        for c in [
            '\u{00AD}',
            '\u{061C}',
            '\u{180E}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2060}',
            '\u{2066}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{FFF9}',
            '\u{E0001}',
            '\u{E007F}',
        ] {
            assert!(is_format_control(c), "U+{:04X} is Cf", u32::from(c));
        }
        // Letters, spaces, other invisible-but-not-Cf characters and controls (Cc).
        for c in [
            'a', 'ü', 'ß', ' ', '\u{00A0}', '\u{3000}', '\u{0301}', '\u{0000}', '\n', '-', '€',
        ] {
            assert!(!is_format_control(c), "U+{:04X} is not Cf", u32::from(c));
        }
    }

    #[test]
    fn bidi_overrides_are_the_embeddings_overrides_and_isolates_only() {
        let overrides: Vec<u32> = (0..=0x10FFFF_u32)
            .filter_map(char::from_u32)
            .filter(|c| is_bidi_override(*c))
            .map(u32::from)
            .collect();
        assert_eq!(
            overrides,
            [0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069]
        );
        assert!(
            overrides
                .iter()
                .filter_map(|c| char::from_u32(*c))
                .all(is_format_control)
        );
        for mark in ['\u{200E}', '\u{200F}', '\u{061C}'] {
            assert!(!is_bidi_override(mark));
        }
    }

    #[test]
    fn nfc_composes_a_decomposed_letter() {
        assert_eq!(nfc("bu\u{0308}cher"), "bücher");
        assert!(matches!(nfc("plain"), Cow::Borrowed("plain")));
    }
}
