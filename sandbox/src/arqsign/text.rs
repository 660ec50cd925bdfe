//! Text checks shared by the send rules and the state: lengths in characters, digits, and
//! the shape of e-mails, phones, CPF and CNPJ.

pub(crate) fn chars(text: &str) -> usize {
    text.chars().count()
}

/// The ASCII digits of `text`.
pub(crate) fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Phones compare by their digits (`+55 (11) 98765-4321` = `5511987654321`).
pub(crate) fn phone_digits(text: &str) -> String {
    digits(text)
}

/// A plausible e-mail of at most 150 characters: one `@`, a dotted domain, no spaces.
pub(crate) fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    chars(text) <= 150
        && !local.is_empty()
        && !domain.contains('@')
        && !text.chars().any(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
}

/// A phone of at most 20 characters: an optional leading `+`, digits, spaces, dashes and
/// parentheses, with 10 to 15 digits (E.164 and Brazilian numbers with area code).
pub(crate) fn is_phone(text: &str) -> bool {
    let body = text.strip_prefix('+').unwrap_or(text);
    chars(text) <= 20
        && body.chars().all(|c| c.is_ascii_digit() || " -()".contains(c))
        && (10..=15).contains(&digits(text).len())
}

/// CPF with valid check digits (punctuation allowed).
pub(crate) fn is_cpf(text: &str) -> bool {
    check_digits(text, 11, &[10, 9, 8, 7, 6, 5, 4, 3, 2], &[11, 10, 9, 8, 7, 6, 5, 4, 3, 2])
}

/// CNPJ with valid check digits (punctuation allowed).
pub(crate) fn is_cnpj(text: &str) -> bool {
    check_digits(
        text,
        14,
        &[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2],
        &[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2],
    )
}

/// The mod-11 scheme shared by CPF and CNPJ; numbers of one repeated digit are invalid.
fn check_digits(text: &str, len: usize, first: &[u32], second: &[u32]) -> bool {
    if !text.chars().all(|c| c.is_ascii_digit() || "./- ".contains(c)) {
        return false;
    }
    let numbers: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if numbers.len() != len || numbers.iter().all(|&d| d == numbers[0]) {
        return false;
    }
    let verify = |weights: &[u32]| {
        let sum: u32 = numbers.iter().zip(weights).map(|(d, w)| d * w).sum();
        let rest = sum % 11;
        if rest < 2 { 0 } else { 11 - rest }
    };
    verify(first) == numbers[len - 2] && verify(second) == numbers[len - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_ids() {
        assert!(is_cpf("529.982.247-25") && is_cpf("52998224725"));
        assert!(!is_cpf("111.111.111-11") && !is_cpf("529.982.247-26") && !is_cpf("5299822472"));
        assert!(is_cnpj("11.222.333/0001-81"));
        assert!(!is_cnpj("11.222.333/0001-82"));
        assert!(
            is_phone("+55 (11) 98765-4321") && !is_phone("+55 11 9") && !is_phone("abc1234567890")
        );
        assert!(is_email("a.b@c.com.br") && !is_email("a@b") && !is_email("a b@c.com"));
    }
}
