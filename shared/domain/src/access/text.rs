//! Masking of one phone number, email or name, and of the phone numbers and emails written
//! anywhere in free text (log lines, activity details, a search query).

use crate::ids::{fold_char, phone_char, Phone, PhoneChar};

/// `13800138000` → `138****8000`. Anything that is not 11 digits keeps only its last 4.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().collect();
    if digits.len() == 11 {
        let head: String = digits[..3].iter().collect();
        let tail: String = digits[7..].iter().collect();
        format!("{head}****{tail}")
    } else {
        let keep = digits.len().saturating_sub(4);
        let tail: String = digits[keep..].iter().collect();
        format!("****{tail}")
    }
}

/// `zhangsan@example.com` → `z***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// `张三` → `张*`, `欧阳娜娜` → `欧***`: the first character, the rest starred.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

/// Masks phone numbers (11 digits starting with 1, not part of a longer number) and email
/// addresses wherever they appear in free text: log lines, activity details, a search query.
pub fn redact_text(text: &str, phones: bool, emails: bool) -> String {
    let text = if emails {
        redact_emails(text)
    } else {
        text.to_string()
    };
    if phones {
        redact_phones(&text)
    } else {
        text
    }
}

/// Every spelling [`Phone::parse`] accepts (`199 1111 0004`, `+86-199-1111-0004`, full-width
/// digits) is a phone here too, as is any 11-digit run starting with 1. Only whole digit
/// groups are read, so a phone is never found inside a longer number; the match keeps its
/// spelling with the national number's 4th to 7th digits starred (`199 **** 0004`).
fn redact_phones(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let class: Vec<PhoneChar> = chars.iter().map(|c| phone_char(*c)).collect();
    let mut starred = vec![false; chars.len()];
    let mut i = 0;
    while i < chars.len() {
        if !matches!(class[i], PhoneChar::Digit(_) | PhoneChar::Plus) {
            i += 1;
            continue;
        }
        // A run of digits, pluses and separators, split into its digit groups.
        let start = i;
        while i < chars.len() && class[i] != PhoneChar::Other {
            i += 1;
        }
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut j = start;
        while j < i {
            if matches!(class[j], PhoneChar::Digit(_)) {
                let g = j;
                while j < i && matches!(class[j], PhoneChar::Digit(_)) {
                    j += 1;
                }
                groups.push((g, j));
            } else {
                j += 1;
            }
        }
        let mut a = 0;
        while a < groups.len() {
            let found = (a..groups.len())
                .rev()
                .filter(|&b| groups[b].1 - groups[a].0 <= 40)
                .find(|&b| {
                    is_phone_spelling(&chars[groups[a].0..groups[b].1], &chars, groups[a].0)
                });
            match found {
                Some(b) => {
                    let digits: Vec<usize> = (groups[a].0..groups[b].1)
                        .filter(|&k| matches!(class[k], PhoneChar::Digit(_)))
                        .collect();
                    let national = &digits[digits.len().saturating_sub(11)..];
                    for &k in national.iter().skip(3).take(4) {
                        starred[k] = true;
                    }
                    a = b + 1;
                }
                None => a += 1,
            }
        }
    }
    chars
        .iter()
        .zip(starred)
        .map(|(c, star)| if star { '*' } else { *c })
        .collect()
}

/// Whether `span` (whole digit groups) spells a phone, with the `+` written just before it.
fn is_phone_spelling(span: &[char], text: &[char], at: usize) -> bool {
    let digits: String = span
        .iter()
        .filter_map(|c| match phone_char(*c) {
            PhoneChar::Digit(d) => Some(char::from(b'0' + d)),
            _ => None,
        })
        .collect();
    // One unbroken run, as the masking always read it: `13800138000`, `8613800138000`.
    let unbroken = span.len() == digits.len()
        && ((digits.len() == 11 && digits.starts_with('1'))
            || (digits.len() == 13 && digits.starts_with("861")));
    let plus = at > 0 && phone_char(text[at - 1]) == PhoneChar::Plus;
    let spelled: String = if plus {
        std::iter::once('+').chain(span.iter().copied()).collect()
    } else {
        span.iter().collect()
    };
    unbroken || Phone::parse(&spelled).is_ok()
}

/// A character of an email address as free text writes it, full-width forms folded.
fn is_email_char(c: char) -> bool {
    let c = fold_char(c);
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn redact_emails(text: &str) -> String {
    if !text.chars().any(|c| fold_char(c) == '@') {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < chars.len() {
        if fold_char(chars[i]) == '@' {
            let mut start = i;
            while start > copied && is_email_char(chars[start - 1]) {
                start -= 1;
            }
            let mut end = i + 1;
            while end < chars.len() && is_email_char(chars[end]) {
                end += 1;
            }
            let domain: String = chars[i + 1..end].iter().map(|c| fold_char(*c)).collect();
            if start < i && domain.contains('.') {
                out.extend(&chars[copied..start]);
                let local: String = chars[start..i].iter().map(|c| fold_char(*c)).collect();
                out.push_str(&mask_email(&format!("{local}@{domain}")));
                copied = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out.extend(&chars[copied..]);
    out
}
