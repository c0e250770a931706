//! Transliteration: replace what a character set cannot represent with look-alikes.
//!
//! Only used when a client asks for it (`transliterate=yes`); by default text that the coding
//! cannot carry is refused. A character the set can represent is kept; otherwise its
//! replacement is used when the set can represent all of it (accents dropped, typographic
//! quotes and dashes to ASCII, Cyrillic and Greek to Latin letters, `€` to `EUR`, ...);
//! otherwise it becomes `?`. Zero-width characters and combining marks are dropped.

use crate::charset::Charset;
use crate::gsm;

/// Transliterate `text` into something `charset` can represent; the result always encodes.
#[must_use]
pub fn transliterate(text: &str, charset: Charset) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if charset.can_encode(c) {
            out.push(c);
            continue;
        }
        let rep = [gsm::transliteration_of(c), replacement(c)]
            .into_iter()
            .flatten()
            .find(|rep| rep.chars().all(|r| charset.can_encode(r)));
        match rep {
            Some(rep) => out.push_str(rep),
            None => out.push('?'),
        }
    }
    out
}

/// Replacements beyond the GSM table's own: letters the GSM alphabet has but other sets lack,
/// and other scripts' letters.
fn replacement(c: char) -> Option<&'static str> {
    Some(match c {
        // Latin-1 letters (for ASCII and the ISO-8859 sets).
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "A",
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
        'Æ' => "AE",
        'æ' => "ae",
        'Ç' => "C",
        'ç' => "c",
        'È' | 'É' | 'Ê' | 'Ë' => "E",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'Ì' | 'Í' | 'Î' | 'Ï' => "I",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'Ð' => "D",
        'ð' => "d",
        'Ñ' => "N",
        'ñ' => "n",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "O",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
        'Ù' | 'Ú' | 'Û' | 'Ü' => "U",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'Ý' => "Y",
        'ý' | 'ÿ' => "y",
        'Þ' => "TH",
        'þ' => "th",
        'ß' => "ss",
        // Symbols.
        '¡' => "!",
        '¿' => "?",
        '£' => "GBP",
        '¥' => "JPY",
        '€' => "EUR",
        '±' => "+-",
        'µ' => "u",
        '¹' => "1",
        '²' => "2",
        '³' => "3",
        '¼' => "1/4",
        '½' => "1/2",
        '¾' => "3/4",
        '¨' | '¸' => "",
        // Greek (capitals that look Latin are in the GSM table's replacements).
        'Δ' => "D",
        'Φ' => "F",
        'Γ' => "G",
        'Λ' => "L",
        'Ω' => "O",
        'Π' => "P",
        'Ψ' => "PS",
        'Σ' => "S",
        'Θ' => "TH",
        'Ξ' => "X",
        'α' | 'ά' => "a",
        'β' => "b",
        'γ' => "g",
        'δ' => "d",
        'ε' | 'έ' => "e",
        'ζ' => "z",
        'η' | 'ή' | 'ι' | 'ί' | 'ϊ' | 'ΐ' => "i",
        'θ' => "th",
        'κ' => "k",
        'λ' => "l",
        'μ' => "m",
        'ν' => "n",
        'ξ' => "x",
        'ο' | 'ό' | 'ω' | 'ώ' => "o",
        'π' => "p",
        'ρ' => "r",
        'σ' | 'ς' => "s",
        'τ' => "t",
        'υ' | 'ύ' | 'ϋ' | 'ΰ' => "y",
        'φ' => "f",
        'χ' => "ch",
        'ψ' => "ps",
        // Cyrillic (Russian, Ukrainian, Belarusian letters).
        'А' => "A",
        'Б' => "B",
        'В' => "V",
        'Г' | 'Ґ' => "G",
        'Д' => "D",
        'Е' | 'Ё' | 'Є' | 'Э' => "E",
        'Ж' => "Zh",
        'З' => "Z",
        'И' | 'І' | 'Ї' => "I",
        'Й' => "Y",
        'К' => "K",
        'Л' => "L",
        'М' => "M",
        'Н' => "N",
        'О' => "O",
        'П' => "P",
        'Р' => "R",
        'С' => "S",
        'Т' => "T",
        'У' | 'Ў' => "U",
        'Ф' => "F",
        'Х' => "Kh",
        'Ц' => "Ts",
        'Ч' => "Ch",
        'Ш' => "Sh",
        'Щ' => "Shch",
        'Ы' => "Y",
        'Ю' => "Yu",
        'Я' => "Ya",
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' | 'ґ' => "g",
        'д' => "d",
        'е' | 'ё' | 'є' | 'э' => "e",
        'ж' => "zh",
        'з' => "z",
        'и' | 'і' | 'ї' => "i",
        'й' => "y",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' | 'ў' => "u",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ы' => "y",
        'ю' => "yu",
        'я' => "ya",
        'Ъ' | 'ъ' | 'Ь' | 'ь' => "",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Charset; 6] = [
        Charset::Gsm,
        Charset::Ascii,
        Charset::Latin1,
        Charset::Cyrillic,
        Charset::Hebrew,
        Charset::Ucs2,
    ];

    #[test]
    fn examples() {
        assert_eq!(transliterate("Привет, мир", Charset::Gsm), "Privet, mir");
        assert_eq!(
            transliterate("Crème brûlée", Charset::Ascii),
            "Creme brulee"
        );
        assert_eq!(transliterate("Crème brûlée", Charset::Gsm), "Crème brulée");
        assert_eq!(
            transliterate("5 € – “ok”", Charset::Latin1),
            "5 EUR - \"ok\""
        );
        assert_eq!(transliterate("5 € – “ok”", Charset::Gsm), "5 € - \"ok\"");
        assert_eq!(transliterate("Straße", Charset::Ascii), "Strasse");
        assert_eq!(transliterate("日本", Charset::Latin1), "??");
        assert_eq!(transliterate("café Ж", Charset::Cyrillic), "cafe Ж");
        assert_eq!(transliterate("שלום é", Charset::Hebrew), "שלום e");
        assert_eq!(transliterate("anything 😀", Charset::Ucs2), "anything 😀");
    }

    #[test]
    fn result_always_encodes() {
        let sample: String = (0x20u32..0x700)
            .chain(0x2000..0x2200)
            .filter_map(char::from_u32)
            .collect();
        for cs in ALL {
            let t = transliterate(&sample, cs);
            assert!(cs.encode(&t).is_ok(), "{cs:?}");
        }
    }
}
